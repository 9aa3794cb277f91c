// A fast stack walk for x86-64 through code without frame pointers, from
// the .eh_frame CFI every object carries. Each return address's rule (how
// to find the caller's CFA, return address and %rbp) is worked out once from
// the FDE and kept in a lock-free cache keyed by address, so a warm walk is
// a cache load and two stack reads per frame. Anything it does not model
// (signal frames, CFA expressions, stack realignment through another
// register, code without CFI) makes it give up on the whole stack, and the
// caller walks it with libunwind instead.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/stack_depot.h"

namespace heapscope::runtime {

// Maps the rule cache. Returns false if memory cannot be had (the walk then
// always gives up).
bool InitCfiUnwinder();

// Return addresses of the calling thread, leaf first, at most `max`,
// leaving out those in [skip_begin, skip_end) (the profiler's own code,
// which must be built with frame pointers: the walk follows %rbp through
// it up to the first frame outside). Returns the number written, or -1 if
// the stack has a frame this walker does not handle. Sets *complete when
// the walk reached the outermost frame (false when `max` cut it short).
// Async-signal-safe apart from the first sight of an address, which reads
// the loader's list of objects (dl_iterate_phdr). With `cached_only` it
// never does that, and is safe to run while another walk on the same
// thread was interrupted halfway: at the first address it has no cached
// rule for (or one it does not handle), it reports that frame and stops
// (*complete false).
//
// Each thread remembers its last complete walk, and a walk that reaches a
// frame the last one also had, with the stack unchanged from there out,
// copies the rest instead of walking it (see cfi_unwind.cc); `info`, when
// given, says whether the result is the remembered walk's exactly.
// The walk also hashes the frames it reports, as it goes (see StackHasher),
// unless `cached_only`.
struct WalkInfo {
  bool same_as_last = false;  // the same stack as this thread's previous remembered walk
  uint64_t serial = 0;        // this walk's number among the thread's remembered ones; 0: not kept
  bool hashed = false;        // `hash` holds the frames returned (a walk that did not give up)
  StackHasher hash;
};
int CfiBacktrace(uintptr_t* out, int max, bool* complete, uintptr_t skip_begin,
                 uintptr_t skip_end, bool cached_only = false, WalkInfo* info = nullptr);

// Walks another thread of this process that is stopped in a system call,
// from the program counter and stack pointer /proc/self/task/TID/syscall
// gives, reading its stack only through `read` (which fails instead of
// faulting: the thread may wake and its stack change meanwhile). Return
// addresses leaf first, the leaf as pc + 1 (like a return address). %rbp
// is unknown at the start: a frame whose CFA needs it before some frame
// restored it from the stack ends the walk, as does a frame this walker
// does not handle; *complete says whether it reached the outermost frame.
// Not async-signal-safe (the first sight of an address reads the loader's
// list of objects).
using ReadWordFn = bool (*)(uintptr_t addr, uintptr_t* out);
int CfiBacktraceFrom(uintptr_t pc, uintptr_t sp, ReadWordFn read, uintptr_t* out, int max,
                     bool* complete);

// Forgets the calling thread's remembered walk (the next walk goes from
// leaf to root). For benchmarks and tests.
void ForgetRememberedWalk();

// Forgets every cached rule (after dlclose, when code addresses may be
// reused by another object).
void FlushCfiCache();

}  // namespace heapscope::runtime
