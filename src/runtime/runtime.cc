// Start-up and shut-down of the runtime: configuration from HEAPSCOPE_*
// variables, the real functions, the tables, the dump thread; the final
// profile on exit and _exit; the public C API.
#include "runtime/runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <new>

#include "base/clock.h"
#include "base/no_destructor.h"
#include "base/parse.h"
#include "base/raw_log.h"
#include "heapscope/heapscope.h"
#include "platform/modules.h"
#include "runtime/dumper.h"
#include "runtime/http/server.h"
#include "runtime/own_deps.h"
#include "runtime/real_functions.h"
#include "runtime/recorder.h"
#include "runtime/resource_table.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {

__thread ThreadState tls_state __attribute__((tls_model("initial-exec")));
__thread bool tls_runtime_thread __attribute__((tls_model("initial-exec")));
uintptr_t g_free_probe_mask = kRecognisableMask;
bool g_large_by_header = false;
bool g_headers = false;
uintptr_t g_tag_key = 0;

State g_state;

namespace {
ProcessFlags g_first_process_flags;
}  // namespace
std::atomic<ProcessFlags*> g_process_flags{&g_first_process_flags};

namespace {

base::NoDestructor<platform::ModuleTable> g_modules;
// 0: not started, 1: in progress, 2: done, 3: failed.
std::atomic<int> g_init{0};

// A child made by fork() runs the runtime's fork handlers (ForkChild in
// dumper.cc and http/server.cc), which set its flags, and so does one made
// through syscall() (interpose/syscall_hook.cc: vsftpd makes each
// connection's processes with syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD)).
// One made by a clone the runtime does not see (the program's own system
// call instruction, clone3) runs none. With the parent's flags such a
// child would record into tables whose locks
// another of the parent's threads (the dump thread, in a snapshot) may
// have held at the clone, wait ten seconds for a dump thread it does not
// have (before a seccomp filter, on SIGTERM), and write its final profile
// under the parent's name. In a page that the kernel clears in every child
// that does not share the parent's memory (MADV_WIPEONFORK, Linux 4.14),
// the flags read off in such a child: the runtime stands aside there, as
// in the children of HEAPSCOPE_FOLLOW_FORK=0. Where the kernel cannot, they
// stay where they are.
void MoveProcessFlags() {
  void* page = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return;
  if (madvise(page, kPageSize, MADV_WIPEONFORK) != 0) {
    munmap(page, kPageSize);
    return;
  }
  const ProcessFlags& old = ThisProcess();
  auto* flags = new (page) ProcessFlags;
  flags->active.store(old.active.load());
  flags->dump_thread.store(old.dump_thread.load());
  flags->http_thread.store(old.http_thread.load());
  g_process_flags.store(flags, std::memory_order_release);
}

// Below this rate so many allocations are sampled that page-aligning them
// would cost memory; every block then has a header instead (recorder.h),
// which free() reads to tell a sampled object.
constexpr uint64_t kAlignSampledMinRate = 64 * 1024;

// A random key for the sampled blocks' tags (recorder.h): the kernel's
// random bytes for this process mixed with the clock, the top bits 10.
uintptr_t TagKey() {
  uint64_t x = __rdtsc();
  if (const auto* r = reinterpret_cast<const unsigned char*>(getauxval(AT_RANDOM))) {
    uint64_t w;
    memcpy(&w, r + 8, sizeof w);
    x ^= w;
  }
  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  x ^= x >> 31;
  return (x & ~(uint64_t{3} << 62)) | (uint64_t{1} << 63);
}

void Warn(const char* var, const char* value, const char* why) {
  char msg[512];
  base::RawBuffer b(msg, sizeof msg);
  b.Str("ignoring ").Str(var).Str("=").Str(value).Str(": ").Str(why);
  base::RawLog(b.CStr());
}

bool EnvFlag(const char* name, bool def) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return def;
  if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
      strcmp(v, "off") == 0) {
    return false;
  }
  if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
      strcmp(v, "on") == 0) {
    return true;
  }
  Warn(name, v, "expected 0 or 1");
  return def;
}

void EnvSize(const char* name, uint64_t* out, uint64_t min) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return;
  uint64_t x;
  if (!base::ParseSize(v, &x) || x < min) {
    Warn(name, v, "expected a size such as 524288 or 512K");
    return;
  }
  *out = x;
}

void EnvDuration(const char* name, uint64_t* out_ns, const char* expected) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return;
  uint64_t ns;
  if (!base::ParseDuration(v, &ns)) {
    Warn(name, v, expected);
    return;
  }
  *out_ns = ns;
}

// A count where 0 is allowed (0: no bound); anything else not a number is
// reported and ignored.
void EnvCount(const char* name, uint64_t* out, const char* expected) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return;
  uint64_t n;
  if (base::ParseUint(v, &n)) {
    *out = n;
  } else {
    Warn(name, v, expected);
  }
}

// Copies a variable into a fixed buffer; too long is reported and ignored.
void EnvString(const char* name, char* out, size_t cap) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return;
  if (strlen(v) >= cap) {
    Warn(name, "...", "too long");
    return;
  }
  memcpy(out, v, strlen(v) + 1);
}

void ReadConfig(Config* c) {
  c->enabled = EnvFlag("HEAPSCOPE_ENABLED", true);
  EnvSize("HEAPSCOPE_RATE", &c->rate, 1);
  EnvDuration("HEAPSCOPE_INTERVAL", &c->interval_ns, "expected a duration such as 10s or 500ms");
  EnvDuration("HEAPSCOPE_MALLINFO_MAX", &c->mallinfo_max_ns,
              "expected a duration such as 10ms (0: never read)");
  EnvCount("HEAPSCOPE_KEEP", &c->keep, "expected a number of files (0: keep all)");
  EnvCount("HEAPSCOPE_KEEP_CHILDREN", &c->keep_children,
           "expected a number of processes (0: keep all)");
  EnvSize("HEAPSCOPE_MAX_STACKS", &c->max_stacks, 1);
  if (c->max_stacks > (1u << 24) - 1) c->max_stacks = (1u << 24) - 1;  // live table packs 24 bits
  EnvSize("HEAPSCOPE_MAX_LIVE", &c->max_live, 1);
  c->follow_fork = EnvFlag("HEAPSCOPE_FOLLOW_FORK", true);
  c->final_dump = EnvFlag("HEAPSCOPE_FINAL", true);
  c->pressure = EnvFlag("HEAPSCOPE_PRESSURE", true);
  c->dump_signal = SIGRTMIN + 7;
  if (const char* v = getenv("HEAPSCOPE_DUMP_SIGNAL"); v != nullptr && *v != '\0') {
    int s;
    if (!base::ParseSignal(v, &s)) {
      Warn("HEAPSCOPE_DUMP_SIGNAL", v, "expected a signal number or USR1, USR2, RTMIN+N, 0");
    } else {
      c->dump_signal = s;
    }
  }
  EnvString("HEAPSCOPE_HTTP", c->http_addr, sizeof c->http_addr);
  EnvString("HEAPSCOPE_TOKEN", c->http_token, sizeof c->http_token);
  if (const char* v = getenv("HEAPSCOPE_HTTP_SIGNAL"); v != nullptr && *v != '\0') {
    int s;
    if (!base::ParseSignal(v, &s)) {
      Warn("HEAPSCOPE_HTTP_SIGNAL", v, "expected a signal number or USR1, USR2, RTMIN+N, 0");
    } else {
      c->http_signal = s;
    }
  }
  const char* out = getenv("HEAPSCOPE_OUT");
  base::RawBuffer b(c->out_dir, sizeof c->out_dir);
  if (out == nullptr || *out == '\0') {
    char name[64];
    platform::ProgramName(name, sizeof name);
    char cwd[900];
    if (getcwd(cwd, sizeof cwd) != nullptr) b.Str(cwd).Char('/');
    b.Str("heapscope-").Str(name[0] ? name : "program").Char('-').Uint(
        static_cast<uint64_t>(getpid()));
  } else {
    b.Str(out);
  }
  b.CStr();
}

struct SelfRange {
  uintptr_t addr, begin, end;
};

int FindSelf(struct dl_phdr_info* info, size_t, void* data) {
  auto* r = static_cast<SelfRange*>(data);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    uintptr_t b = info->dlpi_addr + ph.p_vaddr;
    if (r->addr >= b && r->addr < b + ph.p_memsz) {
      r->begin = b;
      r->end = b + ph.p_memsz;
      return 1;
    }
  }
  return 0;
}

using base::MonoNs;

bool InitOnce() {
  State& g = g_state;
  // First, before the real allocator hands out a block: whether blocks
  // have headers (recorder.h) is decided before any exists.
  ReadConfig(&g.config);
  g_headers = g.config.enabled && g.config.rate < kAlignSampledMinRate;
  if (g_headers) g_free_probe_mask = 0;  // every free() reads its header
  if (!ResolveRealFunctions()) {
    base::RawLog("cannot find the real malloc (RTLD_NEXT); profiling is off");
    return false;
  }
  g.pid = static_cast<int>(getpid());
  g.start_ns = MonoNs();
  g.start_tsc = __rdtsc();
  if (const char* main_pid = getenv("HEAPSCOPE_MAIN_PID")) {
    uint64_t p;
    g.is_main_process = !base::ParseUint(main_pid, &p) || p == static_cast<uint64_t>(g.pid);
  }
  g.align_sampled = g.config.rate >= kAlignSampledMinRate;
  g.heap_shadowed = their.malloc != nullptr;
  Dl_info info;
  g.real_is_glibc = dladdr(reinterpret_cast<void*>(real.malloc), &info) != 0 &&
                    info.dli_fname != nullptr && strstr(info.dli_fname, "/libc.so") != nullptr;
  g_large_by_header = g.align_sampled && g.real_is_glibc;
  // Over glibc, large blocks are recognised by their chunk header, so the
  // address test can ask for offset 0 alone: glibc puts an unsampled block
  // at offset 16 of a page far more often than 1 in 256 (a chunk header on
  // a page boundary is common), and each one costs a live-table probe.
  if (!g.align_sampled) {
    g_free_probe_mask = 0;
  } else {
    g_free_probe_mask = g_large_by_header ? kPageSize - 1 : kRecognisableMask;
  }
  // Over glibc, sampled blocks are tagged (recorder.h).
  if (g_large_by_header && g.config.enabled) g_tag_key = TagKey();
  SelfRange self{reinterpret_cast<uintptr_t>(&InitOnce), 0, 0};
  dl_iterate_phdr(FindSelf, &self);
  g.self_begin = self.begin;
  g.self_end = self.end;
  if (!g.real_is_glibc) {
    SelfRange alloc{reinterpret_cast<uintptr_t>(real.malloc), 0, 0};
    dl_iterate_phdr(FindSelf, &alloc);
    g.allocator_begin = alloc.begin;
    g.allocator_end = alloc.end;
  }
  g_modules.Construct();
  g_modules->Refresh();
  if (!ResolveOwnDeps()) {
    base::RawLog("cannot find zlib or libunwind in this process; profiling is off");
    return true;  // real functions work; recording stays off
  }
  if (!InitRecorder(g.config)) {
    base::RawLog("cannot map memory for the profiler's tables; profiling is off");
    return true;  // real functions work; recording stays off
  }
  InitResources();  // before libunwind makes descriptors of its own
  InitUnwinder();
  MoveProcessFlags();
  g.active.store(g.config.enabled, std::memory_order_release);
  return true;
}

}  // namespace

platform::ModuleTable& Modules() { return *g_modules; }

bool EnsureInitialized() {
  int s = g_init.load(std::memory_order_acquire);
  if (HS_LIKELY(s == 2)) return true;
  if (s == 3) return false;
  int expected = 0;
  if (s == 0 && g_init.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    bool ok;
    {
      RecursionGuard guard;
      ok = InitOnce();
    }
    g_init.store(ok ? 2 : 3, std::memory_order_release);
    return ok;
  }
  // Another thread initialises, or this thread re-entered through dlsym.
  if (tls_state.guard != 0) return false;
  while ((s = g_init.load(std::memory_order_acquire)) == 1) sched_yield();
  return s == 2;
}

void WarnDropOnce(const char* what) {
  State& g = GlobalState();
  if (g.warned_drop.exchange(true)) return;
  char msg[256];
  base::RawBuffer b(msg, sizeof msg);
  b.Str(what).Str("; dropping samples from now on, counted in every profile");
  base::RawLog(b.CStr());
}

void WarnNoAgesOnce() {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  base::RawLog(
      "live object table full (raise HEAPSCOPE_MAX_LIVE); objects recorded from now on may have "
      "no age (their counts are kept), which the leak report's persistence check needs");
}

bool StartOwnThread(pthread_t* thread, void* (*fn)(void*), void* arg, size_t stack_size) {
  sigset_t all, old;
  sigfillset(&all);
  // The thread inherits this mask.
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack_size);
  bool ok = pthread_create(thread, &attr, fn, arg) == 0;
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

namespace {

struct ForkHandlers {
  void (*prepare)();
  void (*parent)();
  void (*child)();
};
// Registered at start-up, before the program's threads can fork.
ForkHandlers g_fork_handlers[4];
std::atomic<int> g_fork_handler_count{0};
bool g_raw_clone_child = false;

}  // namespace

void RegisterForkHandlers(void (*prepare)(), void (*parent)(), void (*child)()) {
  int n = g_fork_handler_count.load();
  if (n == static_cast<int>(sizeof g_fork_handlers / sizeof g_fork_handlers[0])) {
    base::RawLog("internal: too many fork handlers");
    return;
  }
  g_fork_handlers[n] = {prepare, parent, child};
  g_fork_handler_count.store(n + 1);
  pthread_atfork(prepare, parent, child);
}

void RunForkHandlers(ForkPhase phase) {
  int n = g_fork_handler_count.load();
  if (phase == ForkPhase::kPrepare) {
    for (int i = n - 1; i >= 0; i--) {
      if (g_fork_handlers[i].prepare != nullptr) g_fork_handlers[i].prepare();
    }
    return;
  }
  g_raw_clone_child = phase == ForkPhase::kChild;
  for (int i = 0; i < n; i++) {
    void (*fn)() =
        phase == ForkPhase::kChild ? g_fork_handlers[i].child : g_fork_handlers[i].parent;
    if (fn != nullptr) fn();
  }
  g_raw_clone_child = false;
}

bool InRawCloneChild() { return g_raw_clone_child; }

bool WaitThreadGone(int32_t tid, uint64_t timeout_ns) {
  uint64_t deadline = base::MonoNs() + timeout_ns;
  pid_t pid = getpid();
  for (;;) {
    if (syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH) return true;
    if (base::MonoNs() >= deadline) return false;
    struct timespec ts = {0, 100000};
    nanosleep(&ts, nullptr);
  }
}

namespace {

// An allocator linked into the program, or preloaded ahead of us, takes the
// program's malloc calls before our hooks can: say so once, plainly,
// rather than write profiles that look empty for no visible reason. (A
// program's own operator new usually calls malloc, which we still see.)
void WarnIfShadowed(State& g) {
  if (!g.heap_shadowed) return;
  Dl_info info;
  const char* from = dladdr(reinterpret_cast<void*>(their.malloc), &info) != 0 &&
                             info.dli_fname != nullptr && info.dli_fname[0]
                         ? info.dli_fname
                         : "the program itself";
  g.heap_shadowed_by = from;  // the loader's string, there for the process's life
  char msg[1024];
  base::RawBuffer b(msg, sizeof msg);
  b.Str("malloc comes from ").Str(from).Str(
      " ahead of libheapscope.so: the program's allocations through it are not seen, so the "
      "heap is not profiled in this process (put libheapscope.so first in LD_PRELOAD; an "
      "allocator linked into the program cannot be profiled this way)");
  base::RawLog(b.CStr());
}

__attribute__((constructor(101))) void LibraryInit() {
  if (!EnsureInitialized()) return;
  State& g = g_state;
  if (!g.active.load()) return;
  RecursionGuard guard;
  WarnIfShadowed(g);
  // Children know they are children: they write files with their pid.
  if (getenv("HEAPSCOPE_MAIN_PID") == nullptr) {
    char pid[24];
    base::RawBuffer b(pid, sizeof pid);
    b.Uint(static_cast<uint64_t>(g.pid));
    setenv("HEAPSCOPE_MAIN_PID", b.CStr(), 0);
  }
  StartDumper();
  http::StartHttpServer();
}

__attribute__((destructor(101))) void LibraryFini() {
  if (g_init.load() == 2 && g_state.active.load()) FinalDump();
}

}  // namespace
}  // namespace heapscope::runtime

using heapscope::runtime::real;

extern "C" __attribute__((visibility("default"), noreturn)) void _exit(int status) {
  // A vfork child shares the parent's memory and pid-less state: it must
  // not write (and so take away) the parent's final profile.
  if (heapscope::runtime::g_init.load() == 2 && heapscope::runtime::GlobalState().active.load() &&
      static_cast<int>(getpid()) == heapscope::runtime::GlobalState().pid) {
    heapscope::runtime::FinalDump();
  }
  if (real.exit_ != nullptr) real.exit_(status);
  for (;;) syscall(SYS_exit_group, status);
}

extern "C" __attribute__((visibility("default"), noreturn)) void _Exit(int status) {
  // A vfork child shares the parent's memory and pid-less state: it must
  // not write (and so take away) the parent's final profile.
  if (heapscope::runtime::g_init.load() == 2 && heapscope::runtime::GlobalState().active.load() &&
      static_cast<int>(getpid()) == heapscope::runtime::GlobalState().pid) {
    heapscope::runtime::FinalDump();
  }
  if (real.Exit_ != nullptr) real.Exit_(status);
  for (;;) syscall(SYS_exit_group, status);
}

extern "C" __attribute__((visibility("default"))) int heapscope_dump(const char* path) {
  using namespace heapscope::runtime;
  if (!EnsureInitialized() || !GlobalState().active.load()) {
    errno = ENOSYS;
    return -1;
  }
  if (!ThreadMayWrite()) {
    errno = EPERM;  // a seccomp filter binds this thread
    return -1;
  }
  RecursionGuard guard;
  bool ok = path != nullptr ? DumpToPath(path) : DumpSnapshot();
  return ok ? 0 : -1;
}

extern "C" __attribute__((visibility("default"))) int heapscope_active(void) {
  using namespace heapscope::runtime;
  return g_init.load() == 2 && GlobalState().active.load() ? 1 : 0;
}
