// When profiles are written: periodic snapshots, on demand by signal or
// API, and once at the end however the process ends (return from main,
// exit, _exit, SIGTERM/SIGINT/SIGHUP it does not handle). A background
// thread does the periodic and on-demand work; no writing ever happens in
// a signal handler of a thread that may hold a lock.
#pragma once

#include "runtime/runtime.h"

namespace heapscope::runtime {

// Installs signal handlers, the fork handlers and starts the dump thread.
// Called from the library constructor, once libc is up.
void StartDumper();

// Writes the next numbered snapshot. Returns false on failure.
bool DumpSnapshot();

// Writes a profile to an explicit path.
bool DumpToPath(const char* path);

// Writes heap.final.pb.gz once; later calls do nothing.
void FinalDump();

}  // namespace heapscope::runtime
