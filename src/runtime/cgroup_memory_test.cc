#include "runtime/cgroup_memory.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace heapscope::runtime {
namespace {

namespace fs = std::filesystem;

// A fake machine: /proc/self/cgroup, /proc/self/mountinfo and the cgroup
// files under a temporary directory (the mount points go under it too).
class FakeCgroups {
 public:
  FakeCgroups() {
    char tmpl[] = "/tmp/hs_cgroup_test.XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~FakeCgroups() { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::path p = root_ + "/" + rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  bool OomKills(uint64_t* kills) {
    cgroup_path_ = root_ + "/proc/cgroup";
    mountinfo_path_ = root_ + "/proc/mountinfo";
    return ReadCgroupOomKills(kills, Sources());
  }
  CgroupSources Sources() const {
    CgroupSources src;
    src.proc_cgroup = cgroup_path_.c_str();
    src.mountinfo = mountinfo_path_.c_str();
    src.mount_prefix = root_.c_str();
    return src;
  }
  // ReadTaskLimit with the machine's files (kernel/threads-max,
  // kernel/pid_max, loadavg) under proc/ when written.
  TaskLimit Tasks(const std::string& cgroup, const std::string& mountinfo) {
    Write("proc/cgroup", cgroup);
    Write("proc/mountinfo", mountinfo);
    cgroup_path_ = root_ + "/proc/cgroup";
    mountinfo_path_ = root_ + "/proc/mountinfo";
    threads_max_ = root_ + "/proc/sys/kernel/threads-max";
    pid_max_ = root_ + "/proc/sys/kernel/pid_max";
    loadavg_ = root_ + "/proc/loadavg";
    CgroupSources src = Sources();
    src.threads_max = threads_max_.c_str();
    src.pid_max = pid_max_.c_str();
    src.loadavg = loadavg_.c_str();
    return ReadTaskLimit(src);
  }
  CgroupMemory Read(const std::string& cgroup, const std::string& mountinfo,
                    bool cache_mounts = false) {
    Write("proc/cgroup", cgroup);
    Write("proc/mountinfo", mountinfo);
    cgroup_path_ = root_ + "/proc/cgroup";
    mountinfo_path_ = root_ + "/proc/mountinfo";
    CgroupSources src = Sources();
    src.cache_mounts = cache_mounts;
    return ReadCgroupMemory(src);
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_, cgroup_path_, mountinfo_path_, threads_max_, pid_max_, loadavg_;
};

constexpr char kV2Mount[] =
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(CgroupMemoryTest, V2SystemdUnit) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/system.slice/memory.max", "max\n");
  f.Write("sys/fs/cgroup/system.slice/memory.current", "900000\n");
  f.Write("sys/fs/cgroup/system.slice/app.service/memory.max", "536870912\n");
  f.Write("sys/fs/cgroup/system.slice/app.service/memory.current", "123456\n");
  CgroupMemory m = f.Read("0::/system.slice/app.service\n", kV2Mount);
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.limit, 536870912u);
  EXPECT_EQ(m.usage, 123456u);
  EXPECT_EQ(m.high, 0u);  // no memory.high files

  // MemoryHigh=400M on the unit, a looser one on the slice: the smallest.
  f.Write("sys/fs/cgroup/system.slice/memory.high", "1073741824\n");
  f.Write("sys/fs/cgroup/system.slice/app.service/memory.high", "419430400\n");
  m = f.Read("0::/system.slice/app.service\n", kV2Mount);
  EXPECT_EQ(m.high, 419430400u);
  f.Write("sys/fs/cgroup/system.slice/app.service/memory.high", "max\n");
  m = f.Read("0::/system.slice/app.service\n", kV2Mount);
  EXPECT_EQ(m.high, 1073741824u);
}

// The process's own readings keep the cgroup mount they found (mountinfo
// is long on a busy machine, and read for every profile): the cgroup the
// process is in is still read every time, and a kept mount through which
// the cgroup cannot be read is forgotten.
TEST(CgroupMemoryTest, KeptMountsSpareMountinfoUntilTheyFail) {
  ForgetCgroupMounts();
  constexpr char kNoCgroupMount[] = "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n";
  FakeCgroups f;
  f.Write("sys/fs/cgroup/app/memory.max", "536870912\n");
  f.Write("sys/fs/cgroup/other/memory.max", "1048576\n");
  EXPECT_EQ(f.Read("0::/app\n", kV2Mount, true).limit, 536870912u);
  // mountinfo no longer shows the hierarchy: the kept mount finds the
  // cgroup the process has moved to; without keeping, nothing is found.
  EXPECT_EQ(f.Read("0::/other\n", kNoCgroupMount, true).limit, 1048576u);
  EXPECT_EQ(f.Read("0::/other\n", kNoCgroupMount, false).version, 0);
  // No limit to read, the mount point still there: the mount stays kept.
  fs::remove(f.root() + "/sys/fs/cgroup/other/memory.max");
  EXPECT_EQ(f.Read("0::/other\n", kNoCgroupMount, true).version, 0);
  f.Write("sys/fs/cgroup/other/memory.max", "1048576\n");
  EXPECT_EQ(f.Read("0::/other\n", kNoCgroupMount, true).limit, 1048576u);
  // The mount point gone: forgotten, so the next reading parses mountinfo
  // again (and finds no hierarchy in it).
  fs::remove_all(f.root() + "/sys/fs/cgroup");
  EXPECT_EQ(f.Read("0::/other\n", kNoCgroupMount, true).version, 0);
  f.Write("sys/fs/cgroup/other/memory.max", "1048576\n");
  EXPECT_EQ(f.Read("0::/other\n", kNoCgroupMount, true).version, 0);
  // Its absence is kept too, until forgotten.
  EXPECT_EQ(f.Read("0::/other\n", kV2Mount, true).version, 0);
  ForgetCgroupMounts();
  EXPECT_EQ(f.Read("0::/other\n", kV2Mount, true).limit, 1048576u);
  ForgetCgroupMounts();
}

TEST(CgroupMemoryTest, V2TighterAncestorBinds) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/kubepods/memory.max", "268435456\n");
  f.Write("sys/fs/cgroup/kubepods/memory.current", "200000000\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/memory.max", "max\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/c1/memory.max", "536870912\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/c1/memory.current", "1000\n");
  f.Write("sys/fs/cgroup/kubepods/memory.stat",
          "anon 150000000\nfile 40000000\nkernel 3000000\nshmem 20000000\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/c1/memory.stat", "anon 500\nfile 400\nshmem 0\n");
  CgroupMemory m = f.Read("0::/kubepods/pod1/c1\n", kV2Mount);
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.limit, 268435456u);
  EXPECT_EQ(m.usage, 200000000u);  // the usage of the cgroup whose limit binds
  EXPECT_EQ(m.unreclaimable, 170000000u);  // its anon + shmem, not the page cache
}

TEST(CgroupMemoryTest, V2NoLimitAnywhere) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/user.slice/memory.max", "max\n");
  CgroupMemory m = f.Read("0::/user.slice\n", kV2Mount);
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.limit, 0u);
}

TEST(CgroupMemoryTest, V2WithoutTheMemoryControllerIsNotFound) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/init.scope/cgroup.procs", "1\n");
  CgroupMemory m = f.Read("0::/init.scope\n", kV2Mount);
  EXPECT_EQ(m.version, 0);
}

TEST(CgroupMemoryTest, V2NamespaceRootIsTheMountPoint) {
  // A container with its own cgroup namespace: "/" is its cgroup.
  FakeCgroups f;
  f.Write("sys/fs/cgroup/memory.max", "1073741824\n");
  f.Write("sys/fs/cgroup/memory.current", "5000\n");
  CgroupMemory m = f.Read("0::/\n", kV2Mount);
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.limit, 1073741824u);
  EXPECT_EQ(m.usage, 5000u);
}

constexpr char kV1Cgroup[] =
    "12:pids:/docker/abc\n"
    "5:cpu,cpuacct:/docker/abc\n"
    "4:memory:/docker/abc\n"
    "1:name=systemd:/docker/abc\n"
    "0::/system.slice/containerd.service\n";

TEST(CgroupMemoryTest, V1ContainerMountedAtItsOwnCgroup) {
  // Docker on a cgroup v1 host without a cgroup namespace: the path names
  // the host's cgroup, the mount's root is that same cgroup.
  FakeCgroups f;
  f.Write("sys/fs/cgroup/memory/memory.stat",
          "cache 4096\nrss 8192\nshmem 0\nhierarchical_memory_limit 1073741824\n"
          "hierarchical_memsw_limit 9223372036854771712\ntotal_cache 40960\ntotal_rss 81920\n"
          "total_shmem 1024\n");
  f.Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "2147483648\n");
  f.Write("sys/fs/cgroup/memory/memory.usage_in_bytes", "777\n");
  std::string mountinfo = std::string(kV2Mount) +
                          "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup "
                          "rw,memory\n"
                          "36 31 0:33 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup "
                          "rw,cpu,cpuacct\n";
  CgroupMemory m = f.Read(kV1Cgroup, mountinfo);
  EXPECT_EQ(m.version, 1);          // v1's memory controller before v2 (hybrid)
  EXPECT_EQ(m.limit, 1073741824u);  // hierarchical, not the cgroup's own
  EXPECT_EQ(m.usage, 777u);
  EXPECT_EQ(m.unreclaimable, 82944u);  // with its descendants: total_rss + total_shmem
}

TEST(CgroupMemoryTest, V1HostPathAndUnlimited) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/memory/docker/abc/memory.stat",
          "hierarchical_memory_limit 9223372036854771712\n");
  f.Write("sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "10\n");
  CgroupMemory m =
      f.Read(kV1Cgroup, "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.limit, 0u);  // PAGE_COUNTER_MAX: no limit
  EXPECT_EQ(m.usage, 10u);
  EXPECT_EQ(m.unreclaimable, 0u);  // no total_rss: not read
}

TEST(CgroupMemoryTest, V1FallsBackToTheOwnLimitWithoutStat) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "4096000\n");
  CgroupMemory m =
      f.Read(kV1Cgroup, "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(m.version, 1);
  EXPECT_EQ(m.limit, 4096000u);
}

TEST(CgroupMemoryTest, EscapedMountPointAndLongLines) {
  FakeCgroups f;
  f.Write("cg root/app/memory.max", "65536\n");
  std::string mountinfo = "1 0 0:1 / / rw - ext4 /dev/x rw," + std::string(9000, 'o') + "\n" +
                          "30 22 0:26 / /cg\\040root rw - cgroup2 cgroup2 rw\n";
  CgroupMemory m = f.Read("0::/app\n", mountinfo);
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.limit, 65536u);
}

TEST(CgroupMemoryTest, NothingToFind) {
  FakeCgroups f;
  EXPECT_EQ(f.Read("", kV2Mount).version, 0);
  EXPECT_EQ(f.Read("0::/x\n", "22 1 259:1 / / rw - ext4 /dev/root rw\n").version, 0);
  EXPECT_EQ(f.Read("garbage\n::\n:::\n", "- - -\n\n   \n").version, 0);
  CgroupSources missing;
  missing.proc_cgroup = "/nonexistent/cgroup";
  EXPECT_EQ(ReadCgroupMemory(missing).version, 0);
}

TEST(CgroupMemoryTest, OomKills) {
  FakeCgroups f;
  f.Write("sys/fs/cgroup/app/memory.max", "65536\n");
  f.Write("sys/fs/cgroup/app/memory.events",
          "low 0\nhigh 0\nmax 12\noom 2\noom_kill 3\noom_group_kill 0\n");
  f.Write("proc/cgroup", "0::/app\n");
  f.Write("proc/mountinfo", kV2Mount);
  uint64_t kills = 99;
  EXPECT_TRUE(f.OomKills(&kills));
  EXPECT_EQ(kills, 3u);

  FakeCgroups v1;
  v1.Write("sys/fs/cgroup/memory/docker/abc/memory.oom_control",
           "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n");
  v1.Write("proc/cgroup", kV1Cgroup);
  v1.Write("proc/mountinfo", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_TRUE(v1.OomKills(&kills));
  EXPECT_EQ(kills, 7u);

  // Kernels before 4.13 have no oom_kill line: not known.
  FakeCgroups old;
  old.Write("sys/fs/cgroup/memory/docker/abc/memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\n");
  old.Write("proc/cgroup", kV1Cgroup);
  old.Write("proc/mountinfo", "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_FALSE(old.OomKills(&kills));
}

TEST(CgroupMemoryTest, TaskLimitOfASystemdUnit) {
  // TasksMax=500 on the unit (v2), a machine with room to spare.
  FakeCgroups f;
  f.Write("sys/fs/cgroup/system.slice/pids.max", "max\n");
  f.Write("sys/fs/cgroup/system.slice/pids.current", "900\n");
  f.Write("sys/fs/cgroup/system.slice/app.service/pids.max", "500\n");
  f.Write("sys/fs/cgroup/system.slice/app.service/pids.current", "37\n");
  f.Write("proc/sys/kernel/threads-max", "193107\n");
  f.Write("proc/sys/kernel/pid_max", "4194304\n");
  f.Write("proc/loadavg", "0.52 0.58 0.59 2/1234 56789\n");
  TaskLimit t = f.Tasks("0::/system.slice/app.service\n", kV2Mount);
  EXPECT_EQ(t.source, TaskLimitSource::kCgroupV2);
  EXPECT_EQ(t.limit, 500u);
  EXPECT_EQ(t.tasks, 37u);
  EXPECT_TRUE(t.cgroup_found);
  EXPECT_STREQ(TaskLimitSourceName(t.source), "cgroup_v2");
}

TEST(CgroupMemoryTest, TaskLimitWithLeastRoomBinds) {
  // A pod's 1024 with 1000 used leaves 24; the container's own 4096 more.
  FakeCgroups f;
  f.Write("sys/fs/cgroup/kubepods/pod1/pids.max", "1024\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/pids.current", "1000\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/c1/pids.max", "4096\n");
  f.Write("sys/fs/cgroup/kubepods/pod1/c1/pids.current", "10\n");
  TaskLimit t = f.Tasks("0::/kubepods/pod1/c1\n", kV2Mount);
  EXPECT_EQ(t.source, TaskLimitSource::kCgroupV2);
  EXPECT_EQ(t.limit, 1024u);
  EXPECT_EQ(t.tasks, 1000u);

  // The machine nearly out of pids: it binds before the cgroup.
  f.Write("proc/sys/kernel/threads-max", "193107\n");
  f.Write("proc/sys/kernel/pid_max", "32768\n");
  f.Write("proc/loadavg", "1.00 1.00 1.00 3/32760 99\n");
  t = f.Tasks("0::/kubepods/pod1/c1\n", kV2Mount);
  EXPECT_EQ(t.source, TaskLimitSource::kSystem);
  EXPECT_EQ(t.limit, 32768u);  // pid_max, the smaller
  EXPECT_EQ(t.tasks, 32760u);
  EXPECT_TRUE(t.cgroup_found);
}

TEST(CgroupMemoryTest, TaskLimitV1AndTheMachineAlone) {
  // Docker's --pids-limit on a v1 host (the pids hierarchy, the host's path).
  FakeCgroups f;
  f.Write("sys/fs/cgroup/pids/docker/abc/pids.max", "100\n");
  f.Write("sys/fs/cgroup/pids/docker/abc/pids.current", "3\n");
  f.Write("proc/sys/kernel/threads-max", "2000\n");
  f.Write("proc/sys/kernel/pid_max", "32768\n");
  f.Write("proc/loadavg", "0.00 0.00 0.00 1/300 7\n");
  std::string mountinfo = std::string(kV2Mount) +
                          "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                          "36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
  TaskLimit t = f.Tasks(kV1Cgroup, mountinfo);
  EXPECT_EQ(t.source, TaskLimitSource::kCgroupV1);
  EXPECT_EQ(t.limit, 100u);
  EXPECT_EQ(t.tasks, 3u);

  // No pids.max on the path (the root cgroup has none): the machine's,
  // threads-max being the smaller here.
  FakeCgroups g;
  g.Write("proc/sys/kernel/threads-max", "2000\n");
  g.Write("proc/sys/kernel/pid_max", "32768\n");
  g.Write("proc/loadavg", "0.00 0.00 0.00 1/300 7\n");
  t = g.Tasks("0::/\n", kV2Mount);
  EXPECT_EQ(t.source, TaskLimitSource::kSystem);
  EXPECT_EQ(t.limit, 2000u);
  EXPECT_EQ(t.tasks, 300u);
  EXPECT_FALSE(t.cgroup_found);

  // "max" everywhere and no machine files: none.
  FakeCgroups h;
  h.Write("sys/fs/cgroup/app/pids.max", "max\n");
  h.Write("sys/fs/cgroup/app/pids.current", "5\n");
  t = h.Tasks("0::/app\n", kV2Mount);
  EXPECT_EQ(t.source, TaskLimitSource::kNone);
  EXPECT_TRUE(t.cgroup_found);
  EXPECT_STREQ(TaskLimitSourceName(t.source), "none");
  // A garbled loadavg: no count, so no machine limit.
  h.Write("proc/sys/kernel/threads-max", "2000\n");
  h.Write("proc/loadavg", "garbage\n");
  EXPECT_EQ(h.Tasks("0::/app\n", kV2Mount).source, TaskLimitSource::kNone);
}

TEST(CgroupMemoryTest, PathFor) {
  char out[64];
  ASSERT_TRUE(CgroupPathFor(kV1Cgroup, 1, out, sizeof out));
  EXPECT_STREQ(out, "/docker/abc");
  ASSERT_TRUE(CgroupPathFor(kV1Cgroup, 2, out, sizeof out));
  EXPECT_STREQ(out, "/system.slice/containerd.service");
  ASSERT_TRUE(CgroupPathFor("0::/a:b\n", 2, out, sizeof out));  // ':' in the path
  EXPECT_STREQ(out, "/a:b");
  EXPECT_FALSE(CgroupPathFor("3:memoryx:/a\n", 1, out, sizeof out));
  ASSERT_TRUE(CgroupPathFor("12:pids:/p\n4:memory:/m\n", 1, out, sizeof out, "pids"));
  EXPECT_STREQ(out, "/p");
  EXPECT_FALSE(CgroupPathFor("4:memory:/m\n", 1, out, sizeof out, "pids"));
  EXPECT_FALSE(CgroupPathFor("0::/much/too/long/for/eight\n", 2, out, 8));
}

TEST(CgroupMemoryTest, Dir) {
  char out[64];
  ASSERT_TRUE(CgroupDir("/sys/fs/cgroup", "/", "/a/b", out, sizeof out));
  EXPECT_STREQ(out, "/sys/fs/cgroup/a/b");
  ASSERT_TRUE(CgroupDir("/sys/fs/cgroup", "/", "/", out, sizeof out));
  EXPECT_STREQ(out, "/sys/fs/cgroup");
  ASSERT_TRUE(CgroupDir("/m", "/docker/abc", "/docker/abc/sub", out, sizeof out));
  EXPECT_STREQ(out, "/m/sub");
  ASSERT_TRUE(CgroupDir("/m", "/docker/abc", "/docker/abcd", out, sizeof out));
  EXPECT_STREQ(out, "/m");  // not under the root: the mount point
  ASSERT_TRUE(CgroupDir("/m", "/", "/../other", out, sizeof out));
  EXPECT_STREQ(out, "/m");
  EXPECT_FALSE(CgroupDir("/sys/fs/cgroup", "/", "/a/long/path", out, 12));
}

// The parsers run inside the profiled process: whatever the bytes and
// however small the room, they write only inside it (each buffer is an
// exact-size heap block, so ASan and valgrind see a write past it) and
// leave a NUL-terminated result when they say they succeeded.
TEST(CgroupMemoryTest, AnyBytesAnyRoom) {
  std::mt19937_64 rng(20261207);
  const std::string alphabet = "0123456789abc:/ -,\\.\n\tmemorycgroup2pids";
  auto random_text = [&](size_t max_len) {
    std::string t(rng() % (max_len + 1), ' ');
    for (char& c : t)
      c = (rng() & 7) == 0 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
    return t;
  };
  const std::vector<std::string> seeds = {
      std::string(kV2Mount),
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory", kV1Cgroup,
      "0::/a/b\n"};
  for (int round = 0; round < 20000; round++) {
    std::string text = round % 3 == 0 ? random_text(300) : seeds[rng() % seeds.size()];
    // Mutate a seed: flip, cut or insert a few bytes.
    for (int m = rng() % 4; m > 0 && !text.empty(); m--) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = static_cast<char>(rng());
          break;
        case 1:
          text.erase(at, rng() % 8);
          break;
        default:
          text.insert(at, random_text(8));
          break;
      }
    }
    const size_t cap = 1 + rng() % 64;
    auto a = std::make_unique<char[]>(cap);
    auto b = std::make_unique<char[]>(cap);
    const char* controller = rng() % 2 ? "memory" : "pids";
    if (ParseCgroupMount(text.data(), text.size(), 1 + static_cast<int>(rng() % 2), a.get(), cap,
                         b.get(), cap, controller)) {
      EXPECT_LT(strnlen(a.get(), cap), cap);
      EXPECT_LT(strnlen(b.get(), cap), cap);
    }
    std::string nul_terminated = text.substr(0, text.find('\0'));
    if (CgroupPathFor(nul_terminated.c_str(), 1 + static_cast<int>(rng() % 2), a.get(), cap,
                      controller)) {
      EXPECT_LT(strnlen(a.get(), cap), cap);
    }
    std::string root = random_text(20), path = random_text(40);
    root = root.substr(0, root.find('\0'));
    path = path.substr(0, path.find('\0'));
    if (CgroupDir("/sys/fs/cgroup", root.c_str(), path.c_str(), a.get(), cap)) {
      EXPECT_LT(strnlen(a.get(), cap), cap);
      EXPECT_EQ(std::string(a.get()).rfind("/sys/fs/cgroup", 0), 0u);
    }
  }
}

TEST(CgroupMemoryTest, ThisMachineReadsWithoutTrouble) {
  CgroupMemory m = ProcessCgroupMemory();
  EXPECT_GE(m.version, 0);
  EXPECT_LE(m.version, 2);
  if (m.version == 0) {
    EXPECT_EQ(m.limit, 0u);
  }
  // Linux always has a machine-wide task limit: this process counts.
  TaskLimit t = ProcessTaskLimit();
  EXPECT_NE(t.source, TaskLimitSource::kNone);
  EXPECT_GT(t.limit, 0u);
  EXPECT_GE(t.tasks, 1u);
}

}  // namespace
}  // namespace heapscope::runtime
