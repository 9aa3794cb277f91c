#include "runtime/cgroup_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "base/clock.h"
#include "base/raw_log.h"
#include "base/spinlock.h"
#include "runtime/proc_dir.h"

namespace heapscope::runtime {
namespace {

constexpr size_t kPathCap = 1024;
// cgroup v1 writes "no limit" as PAGE_COUNTER_MAX pages in bytes
// (9223372036854771712 with 4 KiB pages); anything this large is none.
constexpr uint64_t kNoLimit = uint64_t{1} << 62;

// Calls fn(line, len) for each line of the file at path (without its
// newline); a line longer than the buffer is skipped whole.
template <typename Fn>
bool ForEachLine(const char* path, Fn&& fn) {
  int fd = OpenProc(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  size_t have = 0;
  bool skipping = false;  // inside a line too long for buf
  for (;;) {
    long n = syscall(SYS_read, fd, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    size_t start = 0;
    for (size_t i = 0; i < have; i++) {
      if (buf[i] != '\n') continue;
      if (!skipping) fn(buf + start, i - start);
      skipping = false;
      start = i + 1;
    }
    if (start == 0 && have == sizeof buf) {
      skipping = true;  // no newline in a full buffer
      have = 0;
      continue;
    }
    memmove(buf, buf + start, have - start);
    have -= start;
  }
  if (have > 0 && !skipping) fn(buf, have);
  syscall(SYS_close, fd);
  return true;
}

// The decimal number at s (after blanks); 0 for anything else.
uint64_t ParseNumber(const char* s, size_t n) {
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
  uint64_t v = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    if (v > (UINT64_MAX - 9) / 10) return 0;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  return v;
}

// "max" (v2), a number too large to be a limit (v1), or unreadable: 0.
uint64_t ParseLimit(const char* s) {
  uint64_t v = ParseNumber(s, strlen(s));
  return v >= kNoLimit ? 0 : v;
}

// Reads the number in file dir/name (ParseLimit: "max" reads as 0); false
// when the file cannot be read.
bool ReadValue(const char* dir, const char* name, uint64_t* value) {
  char path[kPathCap + 64];
  base::RawBuffer b(path, sizeof path);
  b.Str(dir).Char('/').Str(name);
  if (b.truncated()) return false;
  char text[64];
  if (ReadSmallFile(b.CStr(), text, sizeof text) == 0) return false;
  *value = ParseLimit(text);
  return true;
}

// The numbers of lines "KEY N" for n keys of file dir/name, in one
// reading (each open is a moment the runtime holds a low descriptor
// number: proc_dir.h); found[i] says which were there. False when the file
// does not read.
bool ReadKeys(const char* dir, const char* name, const char* const* keys, uint64_t* values,
              bool* found, size_t n) {
  char path[kPathCap + 64];
  base::RawBuffer b(path, sizeof path);
  b.Str(dir).Char('/').Str(name);
  if (b.truncated()) return false;
  for (size_t i = 0; i < n; i++) found[i] = false;
  return ForEachLine(b.CStr(), [&](const char* line, size_t len) {
    for (size_t i = 0; i < n; i++) {
      const size_t key_len = strlen(keys[i]);
      if (found[i] || len <= key_len || memcmp(line, keys[i], key_len) != 0 ||
          line[key_len] != ' ') {
        continue;
      }
      values[i] = ParseNumber(line + key_len, len - key_len);
      found[i] = true;
    }
  });
}

// The number of line "KEY N" in file dir/name (memory.events,
// memory.oom_control); false when there is none.
bool ReadKeyed(const char* dir, const char* name, const char* key, uint64_t* value) {
  bool found = false;
  return ReadKeys(dir, name, &key, value, &found, 1) && found;
}

// anon + shmem of memory.stat's values (keys by version); 0 when anon is
// not there.
uint64_t Unreclaimable(const uint64_t* values, const bool* found) {
  return found[0] ? values[0] + (found[1] ? values[1] : 0) : 0;
}

// Whether [s, s+n) is the comma-separated list holding `word`.
bool ListHas(const char* s, size_t n, const char* word) {
  size_t w = strlen(word);
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != ',') j++;
    if (j - i == w && memcmp(s + i, word, w) == 0) return true;
    i = j + 1;
  }
  return false;
}

// Copies mountinfo's escaped field [s, s+n) ("\040" for a space) to out.
bool Unescape(const char* s, size_t n, char* out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      c = static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    }
    if (o + 1 >= cap) return false;
    out[o++] = c;
  }
  out[o] = '\0';
  return true;
}

}  // namespace

bool CgroupPathFor(const char* text, int version, char* out, size_t cap, const char* controller) {
  const char* line = text;
  while (*line != '\0') {
    const char* end = strchr(line, '\n');
    size_t len = end != nullptr ? static_cast<size_t>(end - line) : strlen(line);
    // "ID:CONTROLLERS:PATH"; the path may itself hold ':'.
    const char* c1 = static_cast<const char*>(memchr(line, ':', len));
    const char* c2 = c1 != nullptr
                         ? static_cast<const char*>(memchr(c1 + 1, ':', line + len - c1 - 1))
                         : nullptr;
    if (c2 != nullptr) {
      bool match = version == 2 ? (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1)
                                : ListHas(c1 + 1, static_cast<size_t>(c2 - c1 - 1), controller);
      if (match) {
        size_t n = static_cast<size_t>(line + len - (c2 + 1));
        if (n == 0 || n + 1 > cap) return false;
        memcpy(out, c2 + 1, n);
        out[n] = '\0';
        return true;
      }
    }
    if (end == nullptr) break;
    line = end + 1;
  }
  return false;
}

bool ParseCgroupMount(const char* line, size_t len, int version, char* root, size_t root_cap,
                      char* mount_point, size_t mount_cap, const char* controller) {
  // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
  const char* f[16];
  size_t fl[16];
  int nf = 0;
  for (size_t i = 0; i < len && nf < 16;) {
    while (i < len && line[i] == ' ') i++;
    if (i >= len) break;
    size_t j = i;
    while (j < len && line[j] != ' ') j++;
    f[nf] = line + i;
    fl[nf] = j - i;
    nf++;
    i = j;
  }
  int dash = -1;
  for (int i = 6; i < nf; i++) {
    if (fl[i] == 1 && f[i][0] == '-') {
      dash = i;
      break;
    }
  }
  if (dash < 0 || dash + 1 >= nf) return false;
  const char* fstype = f[dash + 1];
  size_t fstype_len = fl[dash + 1];
  if (version == 2) {
    if (fstype_len != 7 || memcmp(fstype, "cgroup2", 7) != 0) return false;
  } else {
    // v1: the controllers are among the super options.
    if (fstype_len != 6 || memcmp(fstype, "cgroup", 6) != 0 || dash + 3 >= nf) return false;
    if (!ListHas(f[dash + 3], fl[dash + 3], controller)) return false;
  }
  return Unescape(f[3], fl[3], root, root_cap) && Unescape(f[4], fl[4], mount_point, mount_cap);
}

bool CgroupDir(const char* mount_point, const char* root, const char* path, char* out, size_t cap) {
  base::RawBuffer b(out, cap);
  b.Str(mount_point);
  size_t rl = strlen(root);
  while (rl > 0 && root[rl - 1] == '/') rl--;  // "/" -> ""
  const char* rel = nullptr;
  if (strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0')) rel = path + rl;
  // Not under the mount's root ("/../x" in a namespace): the mount point.
  if (rel != nullptr && strstr(rel, "/..") == nullptr) {
    while (*rel == '/') rel++;
    if (*rel != '\0') {
      if (b.size() == 0 || b.data()[b.size() - 1] != '/') b.Char('/');
      b.Str(rel);
    }
  }
  // Without a trailing slash.
  size_t n = b.size();
  while (n > 1 && out[n - 1] == '/') n--;
  if (b.truncated() || n + 1 > cap) return false;
  out[n] = '\0';
  return true;
}

namespace {

// The cgroup mounts found last (CgroupSources::cache_mounts), one per
// version and controller. Copied in and out under a lock that is only
// tried: a thread that finds it taken (or a forked child that inherited it
// taken) reads mountinfo itself.
struct MountEntry {
  uint64_t expires_ns = 0;  // 0: nothing kept
  bool found = false;       // whether mountinfo has this hierarchy at all
  char root[kPathCap];
  char mount_point[kPathCap];
};
constexpr const char* kCachedControllers[] = {"memory", "pids"};
MountEntry g_mounts[2][2];  // [controller][version - 1]
base::SpinLock g_mounts_lock;

MountEntry* MountSlot(const char* controller, int version) {
  for (int c = 0; c < 2; c++) {
    if (strcmp(controller, kCachedControllers[c]) == 0) return &g_mounts[c][version - 1];
  }
  return nullptr;
}

// Fills root and mount_point (after the prefix already in it) from the
// cache; false when there is nothing kept, or the lock is taken.
bool CachedMount(const char* controller, int version, char* root, char* mount_point,
                 size_t mount_cap, bool* found) {
  MountEntry* e = MountSlot(controller, version);
  if (e == nullptr || !g_mounts_lock.TryLock()) return false;
  bool hit =
      e->expires_ns != 0 && base::MonoNs() < e->expires_ns && strlen(e->mount_point) < mount_cap;
  if (hit) {
    *found = e->found;
    memcpy(root, e->root, sizeof e->root);
    memcpy(mount_point, e->mount_point, strlen(e->mount_point) + 1);
  }
  g_mounts_lock.Unlock();
  return hit;
}

void KeepMount(const char* controller, int version, bool found, const char* root,
               const char* mount_point) {
  MountEntry* e = MountSlot(controller, version);
  if (e == nullptr || !g_mounts_lock.TryLock()) return;
  e->found = found;
  e->root[0] = e->mount_point[0] = '\0';
  if (found && strlen(root) < sizeof e->root && strlen(mount_point) < sizeof e->mount_point) {
    memcpy(e->root, root, strlen(root) + 1);
    memcpy(e->mount_point, mount_point, strlen(mount_point) + 1);
  }
  e->expires_ns = found && e->mount_point[0] == '\0' ? 0 : base::MonoNs() + kMountCacheNs;
  g_mounts_lock.Unlock();
}

void ForgetMount(const char* controller, int version) {
  MountEntry* e = MountSlot(controller, version);
  if (e == nullptr || !g_mounts_lock.TryLock()) return;
  e->expires_ns = 0;
  g_mounts_lock.Unlock();
}

// Calls fn(version, dir, mount_point) with the directory of the process's
// cgroup for `controller`, v1's first (on a hybrid machine v2 has no
// controllers), until fn returns true; false when none did.
template <typename Fn>
bool ForEachCgroup(const CgroupSources& src, const char* controller, Fn&& fn) {
  char cgroup_text[4096];
  if (ReadSmallFile(src.proc_cgroup, cgroup_text, sizeof cgroup_text) == 0) return false;
  for (int version : {1, 2}) {
    char path[kPathCap];
    if (!CgroupPathFor(cgroup_text, version, path, sizeof path, controller)) continue;
    // The mount point goes after the prefix (tests' directories).
    char root[kPathCap], mount_point[kPathCap];
    size_t prefix_len = strlen(src.mount_prefix);
    if (prefix_len + 2 > sizeof mount_point) return false;
    memcpy(mount_point, src.mount_prefix, prefix_len);
    char* const mount_rest = mount_point + prefix_len;
    const size_t mount_rest_cap = sizeof mount_point - prefix_len;
    bool found = false;
    const bool cached = src.cache_mounts &&
                        CachedMount(controller, version, root, mount_rest, mount_rest_cap, &found);
    if (!cached) {
      ForEachLine(src.mountinfo, [&](const char* line, size_t len) {
        found = found || ParseCgroupMount(line, len, version, root, sizeof root, mount_rest,
                                          mount_rest_cap, controller);
      });
      if (src.cache_mounts) KeepMount(controller, version, found, root, mount_rest);
    }
    if (!found) continue;
    char dir[kPathCap];
    if (!CgroupDir(mount_point, root, path, dir, sizeof dir)) continue;
    if (fn(version, dir, mount_point)) return true;
    // Nothing read through a mount kept from before whose mount point is
    // gone (unmounted, or a chroot): look again next time. (A mount point
    // that is there while the limit is not, like pids.max in the root
    // cgroup of v1, stays kept.)
    if (cached && syscall(SYS_faccessat, AT_FDCWD, mount_point, F_OK) != 0) {
      ForgetMount(controller, version);
    }
  }
  return false;
}

// Calls fn(dir) for dir and each parent of it up to the mount point (the
// root cgroup included), in that order; dir is cut down as it goes.
template <typename Fn>
void ForEachUp(char* dir, const char* mount_point, Fn&& fn) {
  size_t mount_len = strlen(mount_point);
  while (mount_len > 1 && mount_point[mount_len - 1] == '/') mount_len--;
  for (;;) {
    fn(static_cast<const char*>(dir));
    if (strlen(dir) <= mount_len) return;
    char* slash = strrchr(dir, '/');
    if (slash == nullptr || static_cast<size_t>(slash - dir) < mount_len) return;
    *slash = '\0';
  }
}

}  // namespace

void ForgetCgroupMounts() {
  g_mounts_lock.Lock();
  for (auto& controller : g_mounts) {
    for (MountEntry& e : controller) e.expires_ns = 0;
  }
  g_mounts_lock.Unlock();
}

CgroupMemory ReadCgroupMemory(const CgroupSources& src) {
  CgroupMemory r;
  ForEachCgroup(src, "memory", [&](int version, char* dir, const char* mount_point) {
    if (version == 1) {
      // memory.stat's hierarchical_memory_limit is the smallest along the
      // path; memory.limit_in_bytes is this cgroup's own.
      static constexpr const char* kKeys[] = {"total_rss", "total_shmem",
                                              "hierarchical_memory_limit"};
      uint64_t v[3] = {0, 0, 0};
      bool found[3];
      if (ReadKeys(dir, "memory.stat", kKeys, v, found, 3) && found[2]) {
        r.limit = v[2] >= kNoLimit ? 0 : v[2];
      } else if (!ReadValue(dir, "memory.limit_in_bytes", &r.limit)) {
        return false;
      }
      ReadValue(dir, "memory.usage_in_bytes", &r.usage);
      r.unreclaimable = Unreclaimable(v, found);
    } else {
      // The smallest memory.max from this cgroup up to the mount's root
      // (the root cgroup has none), and the usage of the one that binds.
      bool any = false;
      ForEachUp(dir, mount_point, [&](const char* d) {
        uint64_t v = 0;
        if (ReadValue(d, "memory.max", &v)) {
          any = true;
          if (v != 0 && (r.limit == 0 || v < r.limit)) {
            r.limit = v;
            uint64_t usage = 0;
            if (ReadValue(d, "memory.current", &usage)) r.usage = usage;
            static constexpr const char* kKeys[] = {"anon", "shmem"};
            uint64_t stat[2] = {0, 0};
            bool found[2];
            if (ReadKeys(d, "memory.stat", kKeys, stat, found, 2)) {
              r.unreclaimable = Unreclaimable(stat, found);
            }
          }
        }
        if (ReadValue(d, "memory.high", &v) && v != 0 && (r.high == 0 || v < r.high)) r.high = v;
      });
      // No memory.max anywhere: the memory controller is not enabled on
      // this path (or this is the root); the usage of the process's own
      // cgroup then says nothing either.
      if (!any) return false;
    }
    r.version = version;
    return true;
  });
  return r;
}

bool ReadCgroupOomKills(uint64_t* kills, const CgroupSources& src) {
  return ForEachCgroup(src, "memory", [&](int version, char* dir, const char*) {
    return ReadKeyed(dir, version == 1 ? "memory.oom_control" : "memory.events", "oom_kill", kills);
  });
}

namespace {
// The last reading that found a cgroup: a program that chroots has no
// /sys/fs/cgroup afterwards (its /proc/self is the held one).
std::atomic<int> g_last_version{0};
std::atomic<uint64_t> g_last_limit{0};
std::atomic<uint64_t> g_last_usage{0};
std::atomic<uint64_t> g_last_high{0};
}  // namespace

CgroupMemory ProcessCgroupMemory() {
  CgroupSources own;
  own.cache_mounts = true;
  CgroupMemory m = ReadCgroupMemory(own);
  if (m.version != 0) {
    g_last_limit.store(m.limit, std::memory_order_relaxed);
    g_last_usage.store(m.usage, std::memory_order_relaxed);
    g_last_high.store(m.high, std::memory_order_relaxed);
    g_last_version.store(m.version, std::memory_order_release);
    return m;
  }
  m.version = g_last_version.load(std::memory_order_acquire);
  if (m.version != 0) {
    m.limit = g_last_limit.load(std::memory_order_relaxed);
    m.usage = g_last_usage.load(std::memory_order_relaxed);
    m.high = g_last_high.load(std::memory_order_relaxed);
  }
  return m;
}

uint64_t LastCgroupMemoryLimit() {
  return g_last_version.load(std::memory_order_acquire) != 0
             ? g_last_limit.load(std::memory_order_relaxed)
             : 0;
}

TaskLimit ReadTaskLimit(const CgroupSources& src) {
  TaskLimit best;
  auto consider = [&](TaskLimitSource source, uint64_t limit, uint64_t tasks) {
    if (limit == 0) return;
    uint64_t room = limit > tasks ? limit - tasks : 0;
    uint64_t best_room = best.limit > best.tasks ? best.limit - best.tasks : 0;
    if (best.source == TaskLimitSource::kNone || room < best_room) {
      best.source = source;
      best.limit = limit;
      best.tasks = tasks;
    }
  };
  // The pids cgroup: every level's pids.max binds (v1 and v2 alike), each
  // against the tasks of its own subtree.
  ForEachCgroup(src, "pids", [&](int version, char* dir, const char* mount_point) {
    bool any = false;
    ForEachUp(dir, mount_point, [&](const char* d) {
      uint64_t max = 0, current = 0;
      if (ReadValue(d, "pids.max", &max)) {
        any = true;
        if (max != 0 && ReadValue(d, "pids.current", &current)) {
          consider(version == 1 ? TaskLimitSource::kCgroupV1 : TaskLimitSource::kCgroupV2, max,
                   current);
        }
      }
    });
    best.cgroup_found = best.cgroup_found || any;
    return any;
  });
  // The machine: every task takes one of pid_max's numbers and counts
  // against threads-max. /proc/loadavg: "0.10 0.20 0.30 2/345 6789".
  uint64_t threads_max = 0, pid_max = 0;
  char text[128];
  if (ReadSmallFile(src.threads_max, text, sizeof text) > 0) threads_max = ParseLimit(text);
  if (ReadSmallFile(src.pid_max, text, sizeof text) > 0) pid_max = ParseLimit(text);
  uint64_t system_limit =
      threads_max == 0 || (pid_max != 0 && pid_max < threads_max) ? pid_max : threads_max;
  if (system_limit != 0 && ReadSmallFile(src.loadavg, text, sizeof text) > 0) {
    const char* slash = strchr(text, '/');
    uint64_t tasks = slash != nullptr ? ParseNumber(slash + 1, strlen(slash + 1)) : 0;
    if (tasks != 0) consider(TaskLimitSource::kSystem, system_limit, tasks);
  }
  return best;
}

namespace {
std::atomic<int> g_last_task_source{0};
std::atomic<uint64_t> g_last_task_limit{0};
std::atomic<uint64_t> g_last_tasks{0};
}  // namespace

TaskLimit ProcessTaskLimit() {
  CgroupSources own;
  own.cache_mounts = true;
  TaskLimit t = ReadTaskLimit(own);
  // After a chroot /sys is gone (the machine's files are read through the
  // held /proc): a cgroup's limit read before stands.
  const auto last =
      static_cast<TaskLimitSource>(g_last_task_source.load(std::memory_order_acquire));
  const bool cgroup_lost =
      !t.cgroup_found && (last == TaskLimitSource::kCgroupV1 || last == TaskLimitSource::kCgroupV2);
  if (t.source != TaskLimitSource::kNone && !cgroup_lost) {
    g_last_task_limit.store(t.limit, std::memory_order_relaxed);
    g_last_tasks.store(t.tasks, std::memory_order_relaxed);
    g_last_task_source.store(static_cast<int>(t.source), std::memory_order_release);
    return t;
  }
  t.source = last;
  if (t.source != TaskLimitSource::kNone) {
    t.limit = g_last_task_limit.load(std::memory_order_relaxed);
    t.tasks = g_last_tasks.load(std::memory_order_relaxed);
  }
  return t;
}

const char* TaskLimitSourceName(TaskLimitSource source) {
  switch (source) {
    case TaskLimitSource::kCgroupV1:
      return "cgroup_v1";
    case TaskLimitSource::kCgroupV2:
      return "cgroup_v2";
    case TaskLimitSource::kSystem:
      return "system";
    case TaskLimitSource::kNone:
      break;
  }
  return "none";
}

}  // namespace heapscope::runtime
