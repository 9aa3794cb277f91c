// The current stack of every thread of the process (the analogue of Go's
// goroutine profile), for /debug/pprof/threads. Each thread is asked with
// a real-time signal whose handler unwinds its own stack into a slot
// prepared for it; the asking thread waits a bounded time. A thread
// stopped in a system call that a handler would break (poll, epoll_wait,
// nanosleep, ...: EINTR), or blocking the signal, is not signalled: its
// stack is walked from where /proc says it stopped, while it stays there.
// A thread that does not answer in time is still listed, with a pseudo
// frame saying why. The runtime's own threads are left out.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/mmap_arena.h"
#include "format/proto_encoder.h"
#include "runtime/profile_writer.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {

struct ThreadStack {
  int32_t tid;
  char name[20];       // /proc/self/task/TID/comm
  char state;          // from /proc/self/task/TID/stat: R, S, D, T, ...
  const char* pseudo;  // "[signal blocked]", "[no answer]", ...; nullptr: a real stack
  int depth;
  bool truncated;
  bool walked;                   // walked from /proc's pc and sp, without a signal
  uintptr_t frames[kMaxFrames];  // return addresses, leaf first (leaf exact + 1)
};

// The signal used to ask threads (SIGRTMIN+6, or the next free one below it
// when the dump or start signal is configured there).
int ThreadStackSignal();

// Captures every thread's stack into out (as ThreadStack[]), sets *count.
// Returns nullptr on success, else why it could not (the program handles
// the signal itself, memory): the endpoint answers 503 with it.
const char* CaptureThreadStacks(base::MmapBuffer* out, size_t* count);

// profile.proto, gzipped: one sample per thread (threads/count), labelled
// thread_name and tid.
bool WriteThreadsProfileGz(format::ByteSink* out, const ThreadStack* t, size_t n,
                           SymbolCache* symbols);

// Text in the manner of Go's goroutine profile: debug=1 groups threads by
// stack ("N @ 0x..." and one "#" line per frame, then the threads);
// debug>=2 lists each thread with its symbolized stack.
bool WriteThreadsText(format::ByteSink* out, const ThreadStack* t, size_t n, int debug,
                      SymbolCache* symbols);

}  // namespace heapscope::runtime
