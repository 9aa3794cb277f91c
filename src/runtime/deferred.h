// Allocations and frees made by a signal handler that interrupted this
// thread inside a hook's recording section (every-allocation mode). The
// section may hold a table's spinlock or be halfway through a stack walk,
// so the handler's call takes no lock and records nothing itself: it gets
// its memory from the real allocator at once (never turned away) and pushes
// (pointer, size, stack) on a small per-thread queue, which the
// interrupted section drains before it returns. A free of a pointer still
// waiting in the queue cancels its pending record (the allocation still
// counts, as allocated and freed); a free of a recorded object is queued,
// and its real free waits for the drain, so the address cannot be handed
// out and recorded elsewhere in between. A full queue is a counted drop.
//
// The handler's stack is walked only through return addresses whose rules
// the CFI walk already caches (the interrupted walk may be libunwind's,
// which is not reentrant): it ends, marked truncated, at the first frame it
// has no rule for, at the latest at the signal frame.
#pragma once

#include <atomic>
#include <cstddef>

#include "runtime/runtime.h"

namespace heapscope::runtime {

inline bool DeferredPending() { return __atomic_load_n(&tls_state.deferred, __ATOMIC_RELAXED) != 0; }
void DrainDeferred();

// Marks a hook's recording section; declare it before the section's
// RecursionGuard, so that it ends after it. The outermost one drains the
// queue; between the guard's end and its own, a handler's call is an
// ordinary one (the section has let go of everything).
// The signal fences keep the compiler from moving the guard's change to
// the other side of in_hook's: a handler seeing the guard without in_hook
// would take its allocation for the profiler's own, and not record it.
class InHook {
 public:
  InHook() {
    tls_state.in_hook++;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~InHook() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // Once a drain has let go of its guard, a handler's call is an
    // ordinary one; one that came just before that was queued: look again.
    while (tls_state.in_hook == 1 && HS_UNLIKELY(DeferredPending())) DrainDeferred();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    tls_state.in_hook--;
  }
  InHook(const InHook&) = delete;
  InHook& operator=(const InHook&) = delete;
};

// True when this call comes from a signal handler that interrupted a
// recording section on this thread (not from the profiler's own code,
// whose allocations are never recorded).
inline bool InterruptedSection() { return tls_state.guard != 0 && tls_state.in_hook != 0; }

// Queues p (just allocated by the real allocator) to be recorded.
void DeferAlloc(void* p, size_t size);

// Frees p: cancels its queued record, or queues its free (the real free
// then happens at the drain).
void DeferFree(void* p);

}  // namespace heapscope::runtime
