// pthread_create, exported from libheapscope.so: each thread the program
// creates is recorded with the creating stack until it ends. The new
// thread starts in a trampoline that notes its tid; the record is
// forgotten when the thread ends, however it ends. The runtime's own
// threads are created under a RecursionGuard, or start in our own code,
// and are never recorded. The trampoline shows as the outermost frame but
// one (under start_thread) in the new thread's heap stacks.
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/lazy_thread_key.h"
#include "runtime/dumper.h"
#include "runtime/cpu_profile.h"
#include "runtime/deferred.h"
#include "runtime/resource_table.h"

namespace heapscope::runtime {
namespace {

using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
std::atomic<CreateFn> g_next_create{nullptr};
using ExitFn = void (*)(void*);
std::atomic<ExitFn> g_next_exit{nullptr};

// The record is forgotten by a thread-specific key's destructor, which
// glibc runs however the thread ends (return, pthread_exit, cancellation).
constinit base::LazyThreadKey g_key;

void ForgetRecord(void* p) { ReleaseThreadRecord(static_cast<ThreadRecord*>(p)); }

bool KeyReady(const RecursionGuard&) { return g_key.Ready(ForgetRecord, /*wait=*/true); }

void* Trampoline(void* p) {
  auto* r = static_cast<ThreadRecord*>(p);
  void* (*start)(void*) = r->start;
  void* arg = r->arg;
  {
    // Keys past the first block make glibc allocate: not the program's.
    RecursionGuard guard;
    r->tid.store(static_cast<int32_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
    r->stack_hint.store(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)),
                        std::memory_order_relaxed);
    r->state.store(kThreadRunning, std::memory_order_release);
    SetCurrentThreadRecord(r);
    if (pthread_setspecific(g_key.key(), r) != 0) ReleaseThreadRecord(r);
    // A CPU profile running now covers the thread from its first line.
    CpuProfileThreadStarted();
  }
  return start(arg);
}

bool IsOwnCode(void* (*start)(void*)) {
  auto pc = reinterpret_cast<uintptr_t>(start);
  const State& g = GlobalState();
  return pc >= g.self_begin && pc < g.self_end;
}

}  // namespace
}  // namespace heapscope::runtime

using namespace heapscope::runtime;  // NOLINT: hooks are in the global namespace

extern "C" __attribute__((visibility("default"))) int hs_pthread_create(
    pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
    void* arg) __asm__("pthread_create");

extern "C" int hs_pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                                 void* (*start)(void*), void* arg) {
  CreateFn f = NextFunction(&g_next_create, "pthread_create");
  if (f == nullptr) return EAGAIN;
  // The program goes multi-threaded: the runtime's thread, if it waits to
  // start (dumper.h), may start now too.
  if (!IsOwnCode(start)) StartLazyThread(true);
  if (!ShouldRecordResources() || IsOwnCode(start)) {
    return f(thread, attr, start, arg);
  }
  ThreadRecord* r;
  {
    ErrnoKeeper keep;
    InHook in_hook;  // a signal handler's allocations meanwhile are queued
    RecursionGuard guard;
    r = KeyReady(guard) ? AcquireThreadRecord() : nullptr;
    if (r != nullptr) {
      r->stack = CaptureResourceStack(guard);
      r->start = start;
      r->arg = arg;
    }
  }
  if (r == nullptr) return f(thread, attr, start, arg);
  int rc = f(thread, attr, Trampoline, r);
  if (rc != 0) ReleaseThreadRecord(r);
  return rc;
}

// pthread_exit: when the main thread calls it, the process ends once the
// program's other threads have (glibc's rule); the runtime's threads must
// not keep it alive (MainThreadExiting in dumper.h).
extern "C" __attribute__((visibility("default"), noreturn)) void hs_pthread_exit(void* value)
    __asm__("pthread_exit");

extern "C" void hs_pthread_exit(void* value) {
  ExitFn f = NextFunction(&g_next_exit, "pthread_exit");
  if (syscall(SYS_gettid) == getpid()) {
    ErrnoKeeper keep;
    MainThreadExiting();
  }
  if (f != nullptr) f(value);
  // Not found (cannot happen once libc is loaded): end this thread alone.
  for (;;) syscall(SYS_exit, 0);
}
