#include "runtime/deferred.h"

#include "runtime/cfi_unwind.h"
#include "runtime/real_functions.h"
#include "runtime/recorder.h"

namespace heapscope::runtime {
namespace {

// A handler rarely allocates more than a few blocks, but a slow section
// (a drain recording a new stack, a preempted thread) can see several
// signals: 32 entries (about 5 KB of TLS a thread). A handler's stack past
// 16 frames is cut (marked truncated).
constexpr uint32_t kEntries = 32;
constexpr int kEntryFrames = 16;

enum EntryState : uint32_t {
  kEmpty = 0,      // free, or reserved and being written by a handler
  kPending,        // an allocation waiting for the drain
  kCancelled,      // ... freed by a handler before the drain came
  kProcessing,     // ... being recorded by the drain
  kFreePending,    // a free waiting for the drain (which also frees it)
};

struct Entry {
  uint32_t state;  // EntryState, accessed with __atomic builtins
  uint16_t depth;
  uint8_t truncated;
  uintptr_t p;
  uint64_t size;
  uintptr_t frames[kEntryFrames];
};

// Only this thread and the signal handlers that interrupt it touch the
// queue: atomic builtins order them against each other (plain fields, so
// the TLS block needs no constructor).
struct Queue {
  Entry entries[kEntries];  // handed out in order; the count is tls_state.deferred
};

__thread Queue tls_queue __attribute__((tls_model("initial-exec")));

bool CasState(Entry& e, uint32_t* expected, uint32_t desired) {
  return __atomic_compare_exchange_n(&e.state, expected, desired, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE);
}

// A slot for a new entry (state kEmpty until published), or nullptr when
// the queue is full (counted).
Entry* Reserve() {
  Queue& q = tls_queue;
  uint32_t i = __atomic_fetch_add(&tls_state.deferred, 1, __ATOMIC_RELAXED);
  if (i >= kEntries) {
    __atomic_fetch_sub(&tls_state.deferred, 1, __ATOMIC_RELAXED);
    GlobalState().dropped_deferred.fetch_add(1, std::memory_order_relaxed);
    WarnDropOnce("signal handler allocating inside a hook too often (queue full)");
    return nullptr;
  }
  return &q.entries[i];
}

void Process(const RecursionGuard& g, Entry& e) {
  uint32_t s = kPending;
  if (CasState(e, &s, kProcessing)) {
    RecordAllocAt(g, reinterpret_cast<void*>(e.p), e.size, e.frames, e.depth, e.truncated != 0);
  } else if (s == kCancelled) {
    RecordAllocFreed(g, e.size, e.frames, e.depth, e.truncated != 0);
  } else if (s == kFreePending) {
    RecordFree(g, reinterpret_cast<void*>(e.p));
    FreeBlock(reinterpret_cast<void*>(e.p));
  }
  e.p = 0;
  __atomic_store_n(&e.state, kEmpty, __ATOMIC_RELEASE);
}

}  // namespace

void DrainDeferred() {
  RecursionGuard guard;  // a handler arriving now queues again
  Queue& q = tls_queue;
  uint32_t i = 0;
  for (;;) {
    // A handler that interrupts the drain has finished (and published its
    // entries) before the drain goes on.
    uint32_t n = __atomic_load_n(&tls_state.deferred, __ATOMIC_ACQUIRE);
    for (; i < n && i < kEntries; i++) Process(guard, q.entries[i]);
    if (__atomic_compare_exchange_n(&tls_state.deferred, &n, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      return;
    }
  }
}

void DeferAlloc(void* p, size_t size) {
  const State& g = GlobalState();
  Entry* e = Reserve();
  if (e == nullptr) return;
  bool complete = false;
  int n = CfiBacktrace(e->frames, kEntryFrames, &complete, g.self_begin, g.self_end, true);
  e->depth = static_cast<uint16_t>(n < 0 ? 0 : n);
  e->truncated = complete ? 0 : 1;
  e->p = reinterpret_cast<uintptr_t>(p);
  e->size = size;
  __atomic_store_n(&e->state, kPending, __ATOMIC_RELEASE);
}

void DeferFree(void* p) {
  Queue& q = tls_queue;
  auto addr = reinterpret_cast<uintptr_t>(p);
  uint32_t n = __atomic_load_n(&tls_state.deferred, __ATOMIC_ACQUIRE);
  for (uint32_t i = 0; i < n && i < kEntries; i++) {
    Entry& e = q.entries[i];
    if (e.p != addr) continue;
    uint32_t s = kPending;
    if (CasState(e, &s, kCancelled)) {
      FreeBlock(p);  // never in the live table
      return;
    }
  }
  Entry* e = Reserve();
  if (e == nullptr) {
    // Its live entry stays until the address is recorded again (then it
    // counts as freed); the program's free happens now.
    FreeBlock(p);
    return;
  }
  e->p = addr;
  e->size = 0;
  e->depth = 0;
  __atomic_store_n(&e->state, kFreePending, __ATOMIC_RELEASE);
}

}  // namespace heapscope::runtime
