#include "runtime/unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>
#include <ucontext.h>

namespace heapscope::runtime {

void InitUnwinder() {
  // Cache the CFI of each address per thread: after warm-up a stack walk
  // is a few nanoseconds per frame.
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

int CaptureStack(const RecursionGuard&, uintptr_t* frames, int max, bool* truncated) {
  // Room for our own frames (hook, slow path, recorder) on top of `max`.
  constexpr int kOwnFramesRoom = 8;
  void* buf[kMaxFrames + kOwnFramesRoom + 1];
  int cap = max + kOwnFramesRoom + 1;
  if (cap > static_cast<int>(sizeof buf / sizeof buf[0])) cap = sizeof buf / sizeof buf[0];
  int n = unw_backtrace(buf, cap);
  const State& g = GlobalState();
  // Our own frames are cut wherever they are: the hooks at the leaf end,
  // and the thread-start trampoline at the root end of the program's
  // threads.
  int depth = 0;
  int kept_from_program = 0;
  for (int i = 0; i < n; i++) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(buf[i]);
    if (pc >= g.self_begin && pc < g.self_end) continue;
    kept_from_program++;
    if (depth < max) frames[depth++] = pc;
  }
  *truncated = kept_from_program > max || n == cap;
  return depth;
}

int CaptureSignalStack(const void* ucontext, uintptr_t* frames, int max, bool* truncated) {
  constexpr int kOwnFramesRoom = 16;
  void* buf[kMaxFrames + kOwnFramesRoom + 1];
  int cap = max + kOwnFramesRoom + 1;
  if (cap > static_cast<int>(sizeof buf / sizeof buf[0])) cap = sizeof buf / sizeof buf[0];
  int n = unw_backtrace(buf, cap);
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
  int depth = 0;
  int kept_from_program = 0;
  for (int i = first; i < n; i++) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(buf[i]);
    if (pc >= g.self_begin && pc < g.self_end) continue;
    // Frames are return addresses (one past the call), but the interrupted
    // instruction is exact: one past it reads the same way.
    if (i == first && first > 0) pc += 1;
    kept_from_program++;
    if (depth < max) frames[depth++] = pc;
  }
  if (depth == 0 && ip != 0 && max > 0 && !(ip >= g.self_begin && ip < g.self_end)) {
    frames[depth++] = ip + 1;  // the unwinder found nothing: at least where it was
    kept_from_program = 1;
  }
  *truncated = kept_from_program > max || n == cap;
  return depth;
}

}  // namespace heapscope::runtime
