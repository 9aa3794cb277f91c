#include "runtime/dumper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "base/clock.h"
#include "base/lazy_thread_key.h"
#include "base/raw_log.h"
#include "base/spinlock.h"
#include "platform/modules.h"
#include "runtime/cgroup_memory.h"
#include "runtime/child_files.h"
#include "runtime/http/server.h"
#include "runtime/memory_breakdown.h"
#include "runtime/memory_pressure.h"
#include "runtime/out_dir.h"
#include "runtime/proc_dir.h"
#include "runtime/profile_writer.h"
#include "runtime/recorder.h"
#include "runtime/resource_profiles.h"
#include "runtime/sampler.h"
#include "runtime/symbol_cache.h"

namespace heapscope::runtime {

platform::ModuleTable& Modules();

namespace {

base::SpinLock g_dump_lock;
sem_t g_wake;        // posted by the dump signal and by termination handlers
sem_t g_final_done;  // posted by the dump thread after a requested final dump
std::atomic<bool> g_dump_requested{false};
std::atomic<bool> g_final_requested{false};
std::atomic<bool> g_final_started{false};
std::atomic<bool> g_final_written{false};
// Pausing the thread (PauseDumpThread): asked, then the thread either ends
// (kStopped) or, if Resume comes first, is told to go on (kRun). Each side
// moves the state by compare-and-swap, so exactly one of them decides.
enum : int { kRun, kStopAsked, kStopped };
std::atomic<int> g_stop{kRun};
base::SpinLock g_pause_lock;  // one pause at a time
pthread_t g_thread;
uint64_t g_seq = 0;  // numbered snapshots written by this process (after those on disk)

using base::MonoNs;

// Snapshots ahead of an OOM kill, which no handler sees (SIGKILL): while
// the process's cgroup has a memory limit, its resident memory is read
// every kPressurePollNs (/proc/self/statm, a few microseconds), and a
// snapshot is written the first time the memory held (HeldMemory: that,
// or the cgroup's anon + shmem read with the limit and moved by the
// process's own change since, whichever is larger: the cgroup's other
// processes and tmpfs files count towards the kill) passes each of
// kPressureLevels of the limit, so that the profiles end close to the kill
// even with periodic snapshots far apart or off. The levels re-arm once it falls
// below kPressureRearm (memory_pressure.h). statm is held open (moved
// high, one of the runtime's own descriptors) and read with pread; the
// limit is read again every kLimitReadNs (and by every profile), so that
// one set or changed while the program runs (systemctl set-property
// MemoryMax=, docker update, a pod resized in place) is watched within
// seconds, those files moved high as they are opened (proc_dir.h).
constexpr uint64_t kPressurePollNs = 100'000'000;
constexpr uint64_t kLimitReadNs = 2'000'000'000;
constexpr uint64_t kCgroupEveryPollPercent = 50;

struct Pressure {
  uint64_t next_poll = 0;        // MonoNs
  uint64_t next_limit_read = 0;  // MonoNs
  size_t fired = 0;              // levels passed since the last re-arm
  uint64_t cgroup_held = 0;      // the cgroup's anon + shmem at the last limit read
  uint64_t rss_then = 0;         // resident memory then
  uint64_t last_percent = 0;     // of the limit held at the last poll
};
Pressure g_pressure;  // the dump thread's alone
std::atomic<int> g_statm_fd{-1};

// Opens /proc/self/statm for the polls, where no other thread of the
// process can be opening files: the library's constructor, a forked child.
void HoldStatm() {
  if (!GlobalState().config.pressure) return;
  int fd = OpenProc("/proc/self/statm", O_RDONLY | O_CLOEXEC);  // moved high already
  if (fd < 0) return;
  RegisterOwnFd(fd);
  g_statm_fd.store(fd, std::memory_order_release);
}

// Resident bytes now, from /proc/self/statm's second field (0: unknown).
uint64_t ResidentBytes() {
  const int fd = g_statm_fd.load(std::memory_order_acquire);
  if (fd < 0) return 0;
  char text[128];
  long n;
  do {
    n = syscall(SYS_pread64, fd, text, sizeof text - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  text[n] = '\0';
  const char* p = strchr(text, ' ');
  if (p == nullptr) return 0;
  uint64_t pages = 0;
  for (p++; *p >= '0' && *p <= '9'; p++) pages = pages * 10 + static_cast<uint64_t>(*p - '0');
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// The dump thread's next pressure poll (0: none: turned off).
uint64_t PressureWake() {
  if (g_statm_fd.load(std::memory_order_relaxed) < 0) return 0;
  if (g_pressure.next_poll == 0) g_pressure.next_poll = MonoNs();
  return g_pressure.next_poll;
}

bool DumpPressureSnapshot(uint32_t percent);

// When a poll is due: a snapshot when the memory held passed a level it
// had not since the last re-arm.
void PollPressure() {
  const uint64_t now = MonoNs();
  if (g_pressure.next_poll == 0 || now < g_pressure.next_poll) return;
  // Past kCgroupEveryPollPercent of the limit with the cgroup holding
  // more than the process shows (other processes, tmpfs: their growth is
  // seen only at a reading), the cgroup is read at every poll.
  const bool near = g_pressure.cgroup_held > g_pressure.rss_then &&
                    g_pressure.last_percent >= kCgroupEveryPollPercent;
  if (now >= g_pressure.next_limit_read || near) {
    g_pressure.next_limit_read = now + kLimitReadNs;
    g_pressure.cgroup_held = ProcessCgroupMemory().unreclaimable;
    g_pressure.rss_then = ResidentBytes();
  }
  const uint64_t limit = LastCgroupMemoryLimit();
  // Without a limit nothing to watch until one is read.
  g_pressure.next_poll = now + (limit != 0 ? kPressurePollNs : kLimitReadNs);
  if (limit == 0) return;
  const uint64_t rss = ResidentBytes();
  if (rss == 0) return;
  const uint64_t held = HeldMemory(rss, g_pressure.cgroup_held, g_pressure.rss_then);
  g_pressure.last_percent = held * 100 / limit;
  const PressureStep step = StepPressure(g_pressure.last_percent, g_pressure.fired);
  g_pressure.fired = step.fired;
  if (step.snapshot_at != 0) DumpPressureSnapshot(step.snapshot_at);
}

// <out>/heap[.<pid>].<what>.pb.gz
void SnapshotPath(base::RawBuffer* b, const char* what, uint64_t seq) {
  const State& g = GlobalState();
  b->Str(g.config.out_dir).Str("/heap.");
  if (!g.is_main_process) b->Uint(static_cast<uint64_t>(g.pid)).Char('.');
  if (what != nullptr) {
    b->Str(what);
  } else {
    if (seq < 1000) b->Char('0');
    if (seq < 100) b->Char('0');
    if (seq < 10) b->Char('0');
    b->Uint(seq);
  }
  b->Str(".pb.gz");
}

bool WriteFileAtomically(const char* path, const HeapProfileOptions& options = {}) {
  char tmp[1100];
  base::RawBuffer tb(tmp, sizeof tmp);
  tb.Str(path).Str(".tmp");
  if (tb.truncated()) return false;
  int fd = CreateOutFile(tb.CStr());
  if (fd < 0) return false;
  bool ok = WriteHeapProfileGz(fd, options);
  int error = errno;  // why, for the warning (EFBIG, ENOSPC), not the clean-up's
  if (syscall(SYS_close, fd) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    RemoveOutFile(tmp);
    errno = error;
    return false;
  }
  return RenameOutFile(tmp, path);
}

void WarnWriteFailed(const char* path) {
  const int error = errno;
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  char msg[1200];
  base::RawBuffer b(msg, sizeof msg);
  b.Str("cannot write ").Str(path).Str(": ");
  // strerrordesc_np: a constant string, no locale, nothing allocated.
  if (const char* what = strerrordesc_np(error)) {
    b.Str(what);
  } else {
    b.Str("errno ").Int(error);
  }
  b.Str("; profiles may be missing");
  base::RawLog(b.CStr());
}

// The highest number among this process's numbered heap snapshots already
// in the directory (0: none). A program that execs itself in place keeps
// its pid (haproxy's master reloading its configuration) and a service
// restarted with the same HEAPSCOPE_OUT keeps the file names: numbering
// from 1 again overwrote the first snapshots and left the older,
// higher-numbered ones after them in the series. Numbering goes on after
// them instead; the analyzer tells the runs apart (leaks.h, NewestRun).
// Read as the runtime starts, before the program runs: a directory opened
// later would hold a low descriptor number for a moment, one the program
// may be about to get from open() (proc_dir.h, MoveToHighFd).
uint64_t HighestSeqOnDisk() {
  int dir = OpenOutDirForListing();
  if (dir < 0) return 0;
  const State& g = GlobalState();
  char prefix[32];
  base::RawBuffer pb(prefix, sizeof prefix);
  pb.Str("heap.");
  if (!g.is_main_process) pb.Uint(static_cast<uint64_t>(g.pid)).Char('.');
  const size_t n = pb.size();
  uint64_t highest = 0;
  ForEachDirName(dir, [&](const char* name) {
    if (strncmp(name, prefix, n) != 0) return;
    const char* p = name + n;
    uint64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
      if (digits == 18) return;
      v = v * 10 + static_cast<uint64_t>(*p - '0');
    }
    if (digits >= 4 && strcmp(p, ".pb.gz") == 0 && v > highest) highest = v;
  });
  syscall(SYS_close, dir);
  return highest;
}

bool DumpSnapshotLocked(const HeapProfileOptions& options = {}) {
  State& g = GlobalState();
  if (!EnsureOutDir()) {
    WarnWriteFailed(g.config.out_dir);
    return false;
  }
  uint64_t seq = ++g_seq;
  char path[1100];
  base::RawBuffer b(path, sizeof path);
  SnapshotPath(&b, nullptr, seq);
  if (!WriteFileAtomically(b.CStr(), options)) {
    WarnWriteFailed(path);
    return false;
  }
  WriteResourceSnapshots(nullptr, seq);
  if (g.config.keep > 0 && seq > g.config.keep) {
    char old[1100];
    base::RawBuffer ob(old, sizeof old);
    SnapshotPath(&ob, nullptr, seq - g.config.keep);
    RemoveOutFile(ob.CStr());
  }
  PruneChildFiles();
  return true;
}

// glibc ends a process when its last thread ends, so a program whose main
// thread calls pthread_exit ends once its other threads have; the
// runtime's own threads would keep it alive for ever. Once the main thread
// has gone (said at once by a thread-specific data destructor, see
// g_main_key, and by the pthread_exit hook; else seen at the next periodic
// wake-up, when the runtime started on another thread), the dump thread looks every
// kMainGonePollNs whether any thread of the program is left, and when
// none is, ends the process as glibc would have: exit(0), which writes
// the final profile on the way.
std::atomic<bool> g_main_gone{false};
constexpr uint64_t kMainGonePollNs = 20 * 1000000ULL;

// However the main thread ends while the process goes on (pthread_exit,
// cancelled by another thread, or in a forked child the forking thread
// returning from its start routine), glibc runs its thread-specific data
// destructors first: a key with a value in the main thread alone says so
// at once, also where the pthread_exit hook does not run.
constinit base::LazyThreadKey g_main_key;

void OnMainKey(void*) {
  if (syscall(SYS_gettid) == getpid()) MainThreadExiting();
}

// Gives the key its value in the calling thread if it is the main thread.
void MarkMainThread() {
  if (syscall(SYS_gettid) != getpid()) return;
  RecursionGuard guard;  // a key past glibc's first block makes it allocate
  if (g_main_key.Ready(OnMainKey, /*wait=*/true)) {
    pthread_setspecific(g_main_key.key(), reinterpret_cast<void*>(1));
  }
}

// Whether the main thread (the thread group's leader, tid == pid) has
// ended while other threads go on: it then shows as a zombie.
bool MainThreadEnded() {
  char state = ReadThreadState(static_cast<int>(getpid()));
  return state == 'Z' || state == 'X';
}

// Whether a thread other than the main thread and the runtime's own is
// still there. Read a few entries at a time: the first ones tell (7 us
// with 2000 threads, against 54 us for a 4 KiB read).
bool ProgramThreadLeft() {
  const State& g = GlobalState();
  const int64_t pid = getpid();
  bool left = false;
  bool read = ForEachNumberedEntry<256>("/proc/self/task", [&](int64_t tid, int) {
    left = tid != pid && tid != g.dump_tid.load(std::memory_order_relaxed) &&
           tid != g.http_tid.load(std::memory_order_relaxed);
    return !left;
  });
  return left || !read;  // when it cannot tell, the program goes on
}

// The dump thread's work until it is paused (false) or the program's
// threads have all ended (true).
bool DumpLoop() {
  RecursionGuard guard;  // nothing it allocates is recorded
  State& g = GlobalState();
  uint64_t interval = g.config.interval_ns;
  uint64_t next = interval != 0 ? MonoNs() + interval : 0;
  for (;;) {
    // A final dump asked for just before a pause is still written.
    if (g_final_requested.exchange(false)) {
      FinalDump();
      sem_post(&g_final_done);
    }
    int asked = kStopAsked;
    if (g_stop.load() == kStopAsked && g_stop.compare_exchange_strong(asked, kStopped)) {
      return false;
    }
    uint64_t wake = next;
    if (uint64_t poll = PressureWake(); poll != 0 && (wake == 0 || poll < wake)) wake = poll;
    if (g_main_gone.load()) {
      uint64_t poll = MonoNs() + kMainGonePollNs;
      if (wake == 0 || poll < wake) wake = poll;
    }
    if (wake != 0) {
      struct timespec ts;
      ts.tv_sec = static_cast<time_t>(wake / 1000000000ULL);
      ts.tv_nsec = static_cast<long>(wake % 1000000000ULL);
      sem_clockwait(&g_wake, CLOCK_MONOTONIC, &ts);
    } else {
      sem_wait(&g_wake);
    }
    if (g_final_requested.load() || g_stop.load() == kStopAsked) continue;
    bool due = next != 0 && MonoNs() >= next;
    if (g_dump_requested.exchange(false) || due) DumpSnapshot();
    PollPressure();
    if (due) {
      next += interval;
      uint64_t now = MonoNs();
      if (next <= now) next = now + interval;
      if (!g_main_gone.load() && MainThreadEnded()) g_main_gone.store(true);
    }
    if (g_main_gone.load() && !g_final_started.load() && !ProgramThreadLeft()) return true;
  }
}

void* DumpThreadMain(void*) {
  pthread_setname_np(pthread_self(), "heapscope");
  tls_runtime_thread = true;
  State& g = GlobalState();
  const auto self = static_cast<int32_t>(gettid());
  g.dump_tid.store(self, std::memory_order_relaxed);
  if (DumpLoop()) {
    // The program's threads have all ended: this one is its last. Its
    // exit handlers run here, outside the recursion guard, so that what
    // they free and allocate is recorded as the program's.
    exit(0);
  }
  // (A thread started since may have noted its own tid already.)
  int32_t mine = self;
  g.dump_tid.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
  return nullptr;
}

void StartThread() {
  // Not once a seccomp filter is in: a thread started now could be bound.
  if (GlobalState().sandboxed.load() || GlobalState().filtered.load()) return;
  g_stop.store(kRun);
  if (StartOwnThread(&g_thread, DumpThreadMain, nullptr, 256 * 1024)) {
    ThisProcess().dump_thread.store(true);
  }
}

// Programs exec'd with the runtime inherited (not the process heapscope
// started) start the thread lazily: at their first recorded event once
// this time (MonoNs) has come, or at once when they create a thread
// themselves. Sandboxes check that a new process is single-threaded
// before they shut themselves in (Chromium's zygote stops the browser if
// not); a program that lives shorter than an interval (a shell script's
// commands, a compiler driver's) never starts one. 0: no start pending.
std::atomic<uint64_t> g_lazy_start_ns{0};

void ArmLazyStart() {
  const Config& c = GlobalState().config;
  // With the dump signal alone, a second: the signal is then served at the
  // first recorded event after it (OnDumpSignal).
  uint64_t wait = c.interval_ns != 0 ? c.interval_ns : 1000000000ULL;
  g_lazy_start_ns.store(MonoNs() + wait);
}

// The thread is there for periodic snapshots and the dump signal. With
// neither (HEAPSCOPE_INTERVAL=0, HEAPSCOPE_DUMP_SIGNAL=0) the process keeps
// the threads it has: for programs that check they have one (Chromium's
// zygote does); the final profile is written all the same.
bool ThreadWanted() {
  const Config& c = GlobalState().config;
  return c.interval_ns != 0 || c.dump_signal > 0;
}

void OnDumpSignal(int) {
  int saved = errno;
  g_dump_requested.store(true);
  // Not started yet (lazily): the next recorded event starts the thread,
  // which finds the wake-up waiting.
  uint64_t due = g_lazy_start_ns.load();
  if (due > 1) g_lazy_start_ns.compare_exchange_strong(due, 1);
  sem_post(&g_wake);
  errno = saved;
}

// Has the dump thread write the final profile and waits for it (ten
// seconds at most). False when there is no such thread.
bool FinalDumpByThread() {
  if (!ThisProcess().dump_thread.load() || tls_runtime_thread) return false;
  g_final_requested.store(true);
  sem_post(&g_wake);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += 10;
  while (sem_clockwait(&g_final_done, CLOCK_MONOTONIC, &ts) != 0 && errno == EINTR) {
  }
  return true;
}

void OnTerminate(int sig) {
  int saved = errno;
  AvoidAllocatorLocks();  // this thread may have been stopped inside malloc
  if (!FinalDumpByThread()) FinalDump();
  // Die the way the program would have died without us.
  signal(sig, SIG_DFL);
  raise(sig);
  errno = saved;
}

void InstallIfDefault(int sig, void (*handler)(int)) {
  struct sigaction old;
  if (sigaction(sig, nullptr, &old) != 0) return;
  if ((old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler != SIG_DFL) return;  // keep theirs
  if ((old.sa_flags & SA_SIGINFO) != 0) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(sig, &sa, nullptr);
}

// Recording as the fork began: the child's flags start cleared
// (MoveProcessFlags in runtime.cc), and ForkChild sets them from here.
bool g_active_at_fork = false;

void ForkPrepare() {
  g_active_at_fork = GlobalState().active.load();
  g_dump_lock.Lock();
  Modules().LockForFork();
  Depot().LockForFork();
  Live().LockAll();
  LockPendingCountsForFork();
}

void ForkParent() {
  UnlockPendingCountsAfterFork();
  Live().UnlockAll();
  Depot().UnlockAfterFork();
  Modules().UnlockAfterFork();
  g_dump_lock.Unlock();
}

void ForkChild() {
  ResetPendingCountsAfterFork();
  Live().ResetLocksAfterFork();
  Depot().ResetLockAfterFork();
  Modules().ResetLockAfterFork();
  g_dump_lock.ResetAfterFork();
  g_pause_lock.ResetAfterFork();
  g_stop.store(kRun);  // a pause in another thread of the parent is not ours
  ResetMemorySnapshotAfterFork();
  State& g = GlobalState();
  g.active.store(g_active_at_fork);
  g.pid = static_cast<int>(getpid());
  g.is_main_process = false;
  g_seq = 0;  // a new pid: none of its files are there
  // The parent's statm (the /proc/self it was opened through was the
  // parent): this process's own, where nothing else runs yet.
  if (int fd = g_statm_fd.exchange(-1); fd >= 0) {
    CloseOwnFd(fd);
    HoldStatm();
  }
  g_pressure = Pressure{};
  g_final_started.store(false);
  g_final_written.store(false);
  ThisProcess().dump_thread.store(false);
  g.dump_tid.store(0, std::memory_order_relaxed);  // the parent's thread's
  g_final_requested.store(false);
  g_dump_requested.store(false);
  g_main_gone.store(false);  // the forking thread is the child's main thread
  MarkMainThread();
  sem_init(&g_wake, 0, 0);
  sem_init(&g_final_done, 0, 0);
  // Under a seccomp filter the child may be bound by it (made by a thread
  // it binds), and a thread the runtime started there would be: it stands
  // aside.
  if (!g.config.follow_fork || g.filtered.load()) {
    g.active.store(false);
    g.config.final_dump = false;
    // Blocks keep their headers (g_headers): every allocation still takes
    // the slow path, which sees the runtime inactive.
    if (!g_headers) tls_state.bytes_until_sample = ~uint64_t{0} >> 1;
    return;
  }
  ReseedAfterFork();
  // The child has no dump thread: start one, so its periodic snapshots and
  // the dump signal work even before it allocates again (the workers of a
  // pre-forking server sit idle for long). A start the parent was waiting
  // for is the child's at once.
  g_lazy_start_ns.store(0);
  // A child of the program's own clone system call writes its final
  // profile at its end, from the thread that ends it (InRawCloneChild).
  if (ThreadWanted() && !InRawCloneChild()) StartThread();
}

bool DumpPressureSnapshot(uint32_t percent) {
  base::SpinLockHolder h(g_dump_lock);
  if (g_final_written.load()) return false;
  HeapProfileOptions options;
  options.memory_pressure = percent;
  return DumpSnapshotLocked(options);
}

}  // namespace

bool DumpSnapshot() {
  base::SpinLockHolder h(g_dump_lock);
  // After the final profile the process is ending: a snapshot started now
  // could be cut off half-written.
  if (g_final_written.load()) return false;
  return DumpSnapshotLocked();
}

bool DumpToPath(const char* path) {
  base::SpinLockHolder h(g_dump_lock);
  return WriteFileAtomically(path);
}

void FinalDump() {
  State& g = GlobalState();
  // A thread a seccomp filter binds leaves the writing to the dump thread,
  // or to no one.
  if (!ThreadMayWrite()) {
    FinalDumpByThread();
    return;
  }
  if (g_final_started.exchange(true)) return;
  if (g.sandboxed.load()) {
    g_final_written.store(true);
    return;
  }
  // A process the runtime stands aside in (one made by a clone it did not
  // see, MoveProcessFlags in runtime.cc) writes nothing: its files would
  // carry its parent's name.
  if (!g.active.load()) return;
  RecursionGuard guard;
  // Waits for a snapshot in progress, then stops periodic ones for good.
  base::SpinLockHolder h(g_dump_lock);
  g_final_written.store(true);
  if (!g.config.final_dump) return;
  ForceFreshMemorySnapshot();  // the run summary reads the end from it
  if (!EnsureOutDir()) {
    WarnWriteFailed(g.config.out_dir);
    return;
  }
  char path[1100];
  base::RawBuffer b(path, sizeof path);
  SnapshotPath(&b, "final", 0);
  if (!WriteFileAtomically(b.CStr())) WarnWriteFailed(path);
  WriteResourceSnapshots("final", 0);
  // The ended processes' files are bounded by the first process's passes
  // and every other process's periodic ones; a server forking a short-lived
  // process per connection (which never takes a periodic snapshot) has one
  // in 16 of them prune at its end as well, so that the files stay near the
  // bound between the first process's passes, at a sixteenth of the cost.
  if (g.is_main_process || g.pid % 16 == 0) PruneChildFiles();
}

namespace {

// Whether this process writes profiles into the output directory.
bool WritesFiles() {
  const Config& c = GlobalState().config;
  return c.final_dump || ThreadWanted();
}

// The directory `depth` levels above dir (1: its parent), by its path.
void AncestorPath(const char* dir, int depth, char* out, size_t cap) {
  base::RawBuffer b(out, cap);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  for (int k = 0; k < depth && n > 1; k++) {
    while (n > 1 && dir[n - 1] != '/') n--;  // the last component
    while (n > 1 && dir[n - 1] == '/') n--;  // the slash before it
  }
  b.Str(dir, n).CStr();
}

}  // namespace

void ShareOutDirBeforeUidChange(uid_t new_euid) {
  if (new_euid == 0 || new_euid == static_cast<uid_t>(-1) || !ThreadMayWrite()) return;
  if (geteuid() != 0) return;
  State& g = GlobalState();
  if (!g.active.load() || !WritesFiles()) return;
  int saved = errno;
  RecursionGuard guard;
  base::SpinLockHolder h(g_dump_lock);
  struct stat st;
  bool held = HoldOutDir();
  if (held && StatOutDir(&st) == 0 && st.st_uid != new_euid && (st.st_mode & S_IWOTH) == 0) {
    mode_t mode = (st.st_mode & 07777) | S_ISVTX | 0777;
    if (ChmodOutDir(mode) == 0) {
      char msg[1200];
      base::RawBuffer b(msg, sizeof msg);
      b.Str("this process gives up root for uid ").Uint(new_euid).Str(": made ")
          .Str(g.config.out_dir)
          .Str(" writable by every user (sticky, like /tmp) so that its profiles can be written");
      base::RawLog(b.CStr());
    }
    // With the process's current group: a server sets it before its user.
    if (int depth = ClosedAncestorDepth(new_euid, getegid()); depth > 0) {
      char blocker[1024];
      AncestorPath(g.config.out_dir, depth, blocker, sizeof blocker);
      char msg[2300];
      base::RawBuffer b(msg, sizeof msg);
      b.Str("this process gives up root for uid ").Uint(new_euid).Str(", which cannot reach ")
          .Str(g.config.out_dir).Str(" (").Str(blocker)
          .Str(" is closed to it): the process goes on writing through the directory it holds"
               " open, but programs it starts from now on cannot; choose an output directory"
               " every user can reach (heapscope run --out, HEAPSCOPE_OUT)");
      base::RawLog(b.CStr());
    }
  }
  errno = saved;
}

void HoldOutDirBeforeChroot() {
  State& g = GlobalState();
  if (!g.active.load() || !ThreadMayWrite()) return;
  int saved = errno;
  RecursionGuard guard;
  base::SpinLockHolder h(g_dump_lock);
  if (WritesFiles()) HoldOutDir();
  HoldProcDir();
  LoadAllSymbols();
  errno = saved;
}

bool PauseDumpThread() {
  g_pause_lock.Lock();
  if (!ThisProcess().dump_thread.load()) return true;
  State& g = GlobalState();
  // Termination from now on writes its final profile in its own thread.
  ThisProcess().dump_thread.store(false);
  // The thread notes its tid as its first act; one just started may not
  // have yet.
  uint64_t deadline = MonoNs() + 1000000000ULL;
  int32_t tid;
  while ((tid = g.dump_tid.load(std::memory_order_acquire)) == 0 && MonoNs() < deadline) {
    sched_yield();
  }
  g_stop.store(kStopAsked);
  sem_post(&g_wake);
  // A snapshot being written finishes first: seconds at most.
  deadline = MonoNs() + 10 * 1000000000ULL;
  while (g_stop.load() == kStopAsked && MonoNs() < deadline) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, nullptr);
  }
  return g_stop.load() == kStopped && tid != 0 && WaitThreadGone(tid, 1000000000ULL);
}

void ResumeDumpThread() {
  if (g_stop.load() != kRun && !GlobalState().sandboxed.load()) {
    int asked = kStopAsked;
    if (g_stop.compare_exchange_strong(asked, kRun)) {
      // It had not stopped yet (a long snapshot): it goes on.
      ThisProcess().dump_thread.store(true);
    } else if (!g_final_started.load()) {  // not once the process is ending
      StartThread();
    }
  }
  g_pause_lock.Unlock();
}

bool ThreadMayWrite() {
  return tls_runtime_thread || !GlobalState().filtered.load(std::memory_order_relaxed);
}

namespace {

// Our terminating-signal handlers have the final profile written and
// raise the signal again, with system calls a filter may not allow on the
// thread the signal lands on: the default action does what they would
// have, without one.
void GiveTerminatingSignalsBack() {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) == 0 && (old.sa_flags & SA_SIGINFO) == 0 &&
        old.sa_handler == OnTerminate) {
      signal(sig, SIG_DFL);
    }
  }
}

// Stands aside for good (BeforeSeccompFilter, dumper.h).
void EnterSandbox() {
  State& g = GlobalState();
  if (g.sandboxed.exchange(true)) return;
  g.active.store(false);
  // Ended, and not started again by the Resumes (sandboxed).
  PauseDumpThread();
  ResumeDumpThread();
  http::PauseHttpThread();
  http::ResumeHttpThread();
  GiveTerminatingSignalsBack();
}

}  // namespace

void BeforeSeccompFilter(bool all_threads) {
  State& g = GlobalState();
  if (g.sandboxed.load() || tls_runtime_thread) return;
  int saved = errno;
  if (!all_threads && g.active.load() && ThisProcess().dump_thread.load()) {
    // The dump thread stays free of the filter and writes for the process.
    g.filtered.store(true);
    g_lazy_start_ns.store(0);
    GiveTerminatingSignalsBack();
  } else {
    EnterSandbox();
  }
  errno = saved;
}

void StartDumper() {
  const State& g = GlobalState();
  sem_init(&g_wake, 0, 0);
  sem_init(&g_final_done, 0, 0);
  RegisterForkHandlers(ForkPrepare, ForkParent, ForkChild);
  MarkMainThread();
  // For the pressure polls: statm held, and the cgroup's limit read now,
  // before a chroot can put the cgroup's files out of reach (the polls
  // and the profiles read it again; after a chroot the last one read
  // stands).
  if (g.config.pressure && ThreadWanted()) {
    HoldStatm();
    // Read here, the thread's first poll need not read again: a daemon
    // closes its descriptors and opens its own as it starts, just then
    // (e2e.own_fds sent its "go" as the thread started, and lost the race
    // to the cgroup's files in one run of three).
    g_pressure.cgroup_held = ProcessCgroupMemory().unreclaimable;
    g_pressure.rss_then = ResidentBytes();
    g_pressure.next_limit_read = MonoNs() + kLimitReadNs;
  }
  if (g.config.dump_signal > 0) InstallIfDefault(g.config.dump_signal, OnDumpSignal);
  if (g.config.final_dump) {
    InstallIfDefault(SIGTERM, OnTerminate);
    InstallIfDefault(SIGINT, OnTerminate);
    InstallIfDefault(SIGHUP, OnTerminate);
  }
  if (!ThreadWanted()) return;
  g_seq = HighestSeqOnDisk();
  if (g.is_main_process) {
    StartThread();
  } else {
    ArmLazyStart();
  }
}

void MainThreadExiting() {
  g_main_gone.store(true);
  if (ThisProcess().dump_thread.load()) {
    sem_post(&g_wake);
    return;
  }
  // No dump thread (none wanted, or a lazy start not come yet): only the
  // HTTP server's thread could keep the process alive; one is started to
  // end it when the program's threads have.
  if (!http::HttpThreadRunning() || tls_state.guard != 0) return;
  if (!g_pause_lock.TryLock()) return;
  if (!g_final_started.load() && !ThisProcess().dump_thread.load()) {
    g_lazy_start_ns.store(0);
    int saved = errno;
    {
      RecursionGuard guard;  // pthread_create's own allocations are not the program's
      StartThread();
    }
    errno = saved;
  }
  g_pause_lock.Unlock();
}

void StartLazyThread(bool now) {
  uint64_t due = g_lazy_start_ns.load(std::memory_order_relaxed);
  if (HS_LIKELY(due == 0)) return;
  bool on_time = MonoNs() >= due;
  if (!now && !on_time) return;
  // Not inside the profiler's own code or a hook's recording section (a
  // signal handler that interrupted one), and never while the thread is
  // paused for unshare/setns.
  if (tls_state.guard != 0 || tls_state.in_hook != 0) return;
  if (!g_pause_lock.TryLock()) return;
  if (g_lazy_start_ns.compare_exchange_strong(due, 0) && !g_final_started.load() &&
      !ThisProcess().dump_thread.load()) {
    int saved = errno;
    {
      RecursionGuard guard;  // pthread_create's own allocations are not the program's
      // Started at the time of the first periodic snapshot: it writes that
      // one at once.
      if (on_time && GlobalState().config.interval_ns != 0) {
        g_dump_requested.store(true);
        sem_post(&g_wake);
      }
      StartThread();
    }
    errno = saved;
  }
  g_pause_lock.Unlock();
}

}  // namespace heapscope::runtime
