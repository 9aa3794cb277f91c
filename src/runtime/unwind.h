// Call stacks of the current thread, through code without frame pointers
// (libunwind reads the .eh_frame CFI that every x86-64 object carries).
#pragma once

#include <cstdint>

#include "runtime/runtime.h"

namespace heapscope::runtime {

// Captures return addresses, leaf first, with the profiler's own frames
// removed. Returns the depth; sets *truncated when the stack was deeper
// than `max` frames (the outermost frames are then missing).
int CaptureStack(const RecursionGuard&, uintptr_t* frames, int max, bool* truncated);

void InitUnwinder();

}  // namespace heapscope::runtime
