// Call stacks of the current thread, through code without frame pointers
// (libunwind reads the .eh_frame CFI that every x86-64 object carries).
#pragma once

#include <cstdint>

#include "runtime/cfi_unwind.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {

// Captures return addresses, leaf first, with the profiler's own frames
// removed. Returns the depth; sets *truncated when the stack was deeper
// than `max` frames (the outermost frames are then missing).
// `walk`, when given, tells whether the stack is the one this thread's
// previous remembered walk found (see CfiBacktrace).
int CaptureStack(const RecursionGuard&, uintptr_t* frames, int max, bool* truncated,
                 WalkInfo* walk = nullptr);

// The same from a signal handler (async-signal-safe): ucontext is the
// handler's third argument; the stack starts at the interrupted
// instruction, without the handler's frames or the signal trampoline.
int CaptureSignalStack(const void* ucontext, uintptr_t* frames, int max, bool* truncated);

void InitUnwinder();

// After dlclose: the next object loaded may reuse the unloaded one's code
// addresses, so both walks forget what they cached by address (our CFI
// rules, and libunwind's per-thread caches, which it drops lazily by
// generation).
void FlushUnwindCaches();

// Whether pc is in libunwind's code (its pipe, made while it walks for us,
// is the runtime's own descriptor: fd_hooks.cc).
bool IsUnwinderCode(uintptr_t pc);

}  // namespace heapscope::runtime
