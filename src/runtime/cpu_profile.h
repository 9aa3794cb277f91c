// The CPU profile of /debug/pprof/profile: one CPU-time timer per thread
// (CLOCK_THREAD_CPUTIME_ID of that thread, 100 Hz, delivered to it as
// SIGPROF), a handler that unwinds into a lock-free ring, and the server
// thread that drains the ring into a table of stacks and writes them as
// profile.proto with Go's sample types. One profile at a time; the
// program's signal disposition is restored when it ends.
#pragma once

#include <cstdint>

#include "format/proto_encoder.h"
#include "runtime/profile_writer.h"

namespace heapscope::runtime {

inline constexpr uint64_t kCpuPeriodNs = 10000000;  // 100 Hz

enum class CpuStart { kStarted, kBusy, kRefused };

// Starts profiling every thread of the process. On kBusy or kRefused,
// *why says why (for the 409/503 reply).
CpuStart StartCpuProfile(const char** why);

// Moves samples from the ring into the table and arms timers on threads
// that appeared since the last call. The server thread calls it often
// while a profile runs (every 50 ms at least).
void TickCpuProfile();

bool CpuProfileRunning();

// Stops the timers, restores SIGPROF and writes the profile gzipped into
// out. Returns false if memory or the sink failed.
bool FinishCpuProfile(format::ByteSink* out, SymbolCache* symbols);

// Stops and discards (the client went away).
void AbortCpuProfile();

// In a forked child: the profile is the parent's; restore SIGPROF.
void CpuProfileForkChild();

// A thread the program created starts: arm its timer if a profile runs.
void CpuProfileThreadStarted();

}  // namespace heapscope::runtime
