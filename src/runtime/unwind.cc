#include "runtime/unwind.h"

#include <string.h>
#include <ucontext.h>

#include "platform/modules.h"
#include "runtime/cfi_unwind.h"
#include "runtime/own_deps.h"

#ifdef HS_UNWIND_VERIFY
#include "base/raw_log.h"
#endif

namespace heapscope::runtime {

namespace {

// Copies the return addresses buf[first..n) that are not in our own code
// into frames (at most max); *kept counts them all. `exact_first`: buf[first]
// is an interrupted instruction, not a return address (one past a call):
// one past it reads the same way.
int KeepProgramFrames(void* const* buf, int first, int n, bool exact_first, uintptr_t* frames,
                      int max, int* kept) {
  const State& g = GlobalState();
  int depth = 0;
  for (int i = first; i < n; i++) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(buf[i]);
    if (pc >= g.self_begin && pc < g.self_end) continue;
    if (i == first && exact_first) pc += 1;
    ++*kept;
    if (depth < max) frames[depth++] = pc;
  }
  return depth;
}

// The general walk, for stacks the CFI walk hands over (signal frames,
// CFA expressions, code it does not model).
HS_NOINLINE int CaptureStackLibunwind(uintptr_t* frames, int max, bool* truncated) {
  // Room for our own frames (hook, slow path, recorder) on top of `max`.
  constexpr int kOwnFramesRoom = 8;
  void* buf[kMaxFrames + kOwnFramesRoom + 1];
  int cap = max + kOwnFramesRoom + 1;
  if (cap > static_cast<int>(sizeof buf / sizeof buf[0])) cap = sizeof buf / sizeof buf[0];
  int n = Deps().unw_backtrace(buf, cap);
  // Our own frames are cut wherever they are: the hooks at the leaf end,
  // and the thread-start trampoline at the root end of the program's
  // threads.
  int kept_from_program = 0;
  int depth = KeepProgramFrames(buf, 0, n, false, frames, max, &kept_from_program);
  *truncated = kept_from_program > max || n == cap;
  return depth;
}

}  // namespace

void InitUnwinder() {
  InitCfiUnwinder();
  // For stacks the CFI walk hands over: cache the CFI of each address per
  // thread.
  Deps().unw_set_caching_policy(*Deps().unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

void FlushUnwindCaches() {
  FlushCfiCache();
  // dlclose may come before the runtime has found libunwind (dlsym's own
  // dlclose while the real functions are looked up).
  if (Deps().unw_flush_cache != nullptr) Deps().unw_flush_cache(*Deps().unw_local_addr_space, 0, 0);
}

int CaptureStack(const RecursionGuard&, uintptr_t* frames, int max, bool* truncated,
                 WalkInfo* walk) {
  const State& g = GlobalState();
  bool complete = false;
  int n = CfiBacktrace(frames, max, &complete, g.self_begin, g.self_end, false, walk);
#ifdef HS_UNWIND_VERIFY
  if (n >= 0) {
    bool t2;
    uintptr_t ref[kMaxFrames];
    int m = CaptureStackLibunwind(ref, max, &t2);
    if (m != n || memcmp(ref, frames, sizeof(uintptr_t) * static_cast<size_t>(n)) != 0 ||
        t2 == complete) {
      char msg[4096];
      base::RawBuffer b(msg, sizeof msg);
      b.Str("unwind mismatch cfi=").Uint(static_cast<uint64_t>(n)).Str(" unw=").Uint(static_cast<uint64_t>(m));
      for (int i = 0; i < (n > m ? n : m) && i < 40; i++) {
        b.Str("\n  ").Hex(i < n ? frames[i] : 0).Str(" ").Hex(i < m ? ref[i] : 0);
      }
      base::RawLog(b.CStr());
    }
  }
#endif
  if (HS_LIKELY(n >= 0)) {
    *truncated = !complete;
    return n;
  }
  return CaptureStackLibunwind(frames, max, truncated);
}

int CaptureSignalStack(const void* ucontext, uintptr_t* frames, int max, bool* truncated) {
  constexpr int kOwnFramesRoom = 16;
  void* buf[kMaxFrames + kOwnFramesRoom + 1];
  int cap = max + kOwnFramesRoom + 1;
  if (cap > static_cast<int>(sizeof buf / sizeof buf[0])) cap = sizeof buf / sizeof buf[0];
  int n = Deps().unw_backtrace(buf, cap);
  const State& g = GlobalState();
  uintptr_t ip = 0;
  if (ucontext != nullptr) {
    const auto* uc = static_cast<const ucontext_t*>(ucontext);
    ip = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  }
  // The walk starts in the handler and goes through the kernel's signal
  // frame (the restorer in libc) to the interrupted instruction: start
  // there. Without a match (an unwind that could not cross the signal
  // frame) only our own frames are cut.
  int first = 0;
  for (int i = 0; ip != 0 && i < n && i < kOwnFramesRoom; i++) {
    if (reinterpret_cast<uintptr_t>(buf[i]) == ip) {
      first = i;
      break;
    }
  }
  int kept_from_program = 0;
  int depth = KeepProgramFrames(buf, first, n, first > 0, frames, max, &kept_from_program);
  if (depth == 0 && ip != 0 && max > 0 && !(ip >= g.self_begin && ip < g.self_end)) {
    frames[depth++] = ip + 1;  // the unwinder found nothing: at least where it was
    kept_from_program = 1;
  }
  *truncated = kept_from_program > max || n == cap;
  return depth;
}

platform::ModuleTable& Modules();

bool IsUnwinderCode(uintptr_t pc) {
  const platform::Module* m = Modules().Find(pc);
  return m != nullptr && m == Modules().Find(reinterpret_cast<uintptr_t>(Deps().unw_backtrace));
}

}  // namespace heapscope::runtime
