#include "runtime/unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>

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

}  // namespace heapscope::runtime
