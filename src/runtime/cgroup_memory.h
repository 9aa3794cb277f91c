// The memory limit of the cgroup the process runs in: a container's, a
// systemd unit's MemoryMax=, a Kubernetes pod's. The runtime records it in
// every heap profile, so that the leak report can project the time until
// it is reached wherever the profiles are read (the analyzer may run on
// another machine, or read a live endpoint from outside the container).
//
// cgroup v2: the smallest memory.max from the process's cgroup up to the
// root of the mounted hierarchy. cgroup v1: the memory controller's
// hierarchical_memory_limit (memory.stat), which the kernel already takes
// as the smallest along the path. The process's cgroup is found as
// container runtimes and language runtimes find it: its path in
// /proc/self/cgroup, made relative to the root of the cgroup mount in
// /proc/self/mountinfo (with a cgroup namespace, or a container's
// hierarchy mounted at its own cgroup, the mount's root is that cgroup).
//
// The same cgroup, through the pids controller, and the kernel's own
// ceilings give the limit on the number of tasks (threads and processes)
// a thread leak runs into: ReadTaskLimit below.
//
// System calls only, fixed buffers, no allocation: runs on the dump
// thread, the HTTP thread and in the final profile's writer.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace heapscope::runtime {

struct CgroupMemory {
  int version = 0;     // 1 or 2: the hierarchy holding the memory controller; 0: none found
  uint64_t limit = 0;  // bytes; 0 when no limit is set
  uint64_t usage = 0;  // bytes charged to the cgroup now (memory.current, usage_in_bytes)
  // v2: the smallest memory.high up the hierarchy, where the kernel starts
  // to reclaim hard and throttle the cgroup's allocations (systemd's
  // MemoryHigh=); 0 when none is set, and on v1, which has no such limit.
  uint64_t high = 0;
  // What the kernel cannot reclaim of the cgroup whose limit binds (v2: the
  // one with the smallest memory.max; v1: the process's, with its
  // descendants): anonymous memory and shmem/tmpfs, from memory.stat (v2
  // anon + shmem, v1 total_rss + total_shmem); 0 when not read. Unlike
  // usage it leaves out the page cache, which reclaim gives back before an
  // OOM kill, and unlike the process's resident memory it counts the other
  // processes in the cgroup and tmpfs files.
  uint64_t unreclaimable = 0;
};

// Where to read from; tests point these at files of their own.
struct CgroupSources {
  const char* proc_cgroup = "/proc/self/cgroup";
  const char* mountinfo = "/proc/self/mountinfo";
  const char* mount_prefix = "";  // prepended to the mount points found
  const char* threads_max = "/proc/sys/kernel/threads-max";
  const char* pid_max = "/proc/sys/kernel/pid_max";
  const char* loadavg = "/proc/loadavg";  // its fourth field: running/total tasks
  // Keep the cgroup mounts found in mountinfo (the process's own readings,
  // made for every profile and /metrics scrape: mountinfo runs to
  // thousands of lines on a Kubernetes node) for kMountCacheNs, or until
  // a cgroup found through one cannot be read. /proc/self/cgroup, which
  // says which cgroup the process is in now, is read every time.
  bool cache_mounts = false;
};
inline constexpr uint64_t kMountCacheNs = 30'000'000'000;
// Drops the mounts kept (tests).
void ForgetCgroupMounts();

CgroupMemory ReadCgroupMemory(const CgroupSources& sources = {});

// How many processes of the process's memory cgroup the kernel's OOM
// killer has killed (v2 memory.events, v1 memory.oom_control: oom_kill,
// counted whichever limit ran out, the machine's included); false when
// the cgroup or the count cannot be read. `heapscope run` reads it before
// and after the program, which starts in its own cgroup, to tell an OOM
// kill from another SIGKILL.
bool ReadCgroupOomKills(uint64_t* kills, const CgroupSources& sources = {});

// ReadCgroupMemory() of this process; when that finds nothing (after a
// chroot), the last reading that found its cgroup.
CgroupMemory ProcessCgroupMemory();
// The limit of the last ProcessCgroupMemory() that found the cgroup,
// without reading anything (the pressure polls, every 100 ms); 0: none
// set or never read.
uint64_t LastCgroupMemoryLimit();

// Where a new thread stops being possible (pthread_create's EAGAIN, fork's
// "Resource temporarily unavailable"): the limit with the least room left.
enum class TaskLimitSource : int {
  kNone = 0,
  kCgroupV1 = 1,  // the pids controller's pids.max, v1 hierarchy
  kCgroupV2 = 2,  // pids.max, v2 (systemd's TasksMax=, docker --pids-limit, a pod's)
  kSystem = 3,    // kernel.threads-max or kernel.pid_max, for the whole machine
};
struct TaskLimit {
  TaskLimitSource source = TaskLimitSource::kNone;
  uint64_t limit = 0;         // tasks
  uint64_t tasks = 0;         // counted towards it now (the cgroup's, or the machine's)
  bool cgroup_found = false;  // a pids cgroup with pids.max was read
};

// The pids cgroup's: the smallest room (pids.max - pids.current) from the
// process's cgroup up to the mount's root; the machine's: the smaller of
// threads-max and pid_max against the tasks that exist (/proc/loadavg).
// Whichever leaves less room. RLIMIT_NPROC, which counts every thread of
// the user's, is not read (root is exempt; the count would take a walk of
// /proc).
TaskLimit ReadTaskLimit(const CgroupSources& sources = {});
// ReadTaskLimit() of this process, the last good one after a chroot.
TaskLimit ProcessTaskLimit();
const char* TaskLimitSourceName(TaskLimitSource source);  // "cgroup_v1", ...

// Pieces, exposed for tests.
//
// The process's cgroup path (from /proc/self/cgroup's text) in the given
// hierarchy: version 1, the line whose controllers include `controller`;
// version 2, the "0::" line. False when there is none or it does not fit.
bool CgroupPathFor(const char* proc_cgroup_text, int version, char* out, size_t cap,
                   const char* controller = "memory");

// From one line of /proc/self/mountinfo (no newline): whether it mounts the
// hierarchy of `version` (1: a "cgroup" mount with `controller`; 2:
// "cgroup2"), and then its root and mount point, unescaped (\040 ...).
bool ParseCgroupMount(const char* line, size_t len, int version, char* root, size_t root_cap,
                      char* mount_point, size_t mount_cap, const char* controller = "memory");

// The directory of cgroup `path` in a hierarchy mounted at `mount_point`
// whose root is `root`: mount_point + (path relative to root); the mount
// point itself when path is not under root (a namespace's view). False
// when it does not fit.
bool CgroupDir(const char* mount_point, const char* root, const char* path, char* out, size_t cap);

}  // namespace heapscope::runtime
