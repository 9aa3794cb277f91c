// The resource tables as profile.proto, with exact counts: open file
// descriptors (fds/count, labelled kind=...), threads the program created
// (threads/count, labelled thread_name, tid, state) and anonymous mappings
// (mappings/count and space/bytes). Written by the dump thread next to the
// heap snapshots and served by the live endpoint.
#pragma once

#include <cstdint>

#include "format/proto_encoder.h"
#include "runtime/profile_writer.h"

namespace heapscope::runtime {

enum class ResourceProfile { kFds, kThreads, kMappings };

// File name stem and endpoint name: "fds", "threadcreate", "mmap".
const char* ResourceProfileName(ResourceProfile which);

// Writes the profile gzipped into out. symbols: nullptr for the dump
// thread's symbol tables. Allocates only from mmap.
bool WriteResourceProfileGz(ResourceProfile which, format::ByteSink* out, SymbolCache* symbols);

// Writes fds/threadcreate/mmap[.PID].<NNNN or what>.pb.gz beside the heap
// snapshot of the same number (what == nullptr: numbered seq; else e.g.
// "final"), each once the program has created a resource of its kind, and
// deletes the numbered ones `keep` snapshots older. Called by the dumper
// under its lock, after the directory exists.
void WriteResourceSnapshots(const char* what, uint64_t seq);

// Live counts for the index page and /metrics.
struct ResourceCounts {
  uint64_t fds = 0;       // recorded descriptors, inherited ones included
  uint64_t threads = 0;   // threads created by the program, still alive
  uint64_t mappings = 0;  // anonymous mappings the program made
  uint64_t mapped_bytes = 0;
};
ResourceCounts CountResources();

}  // namespace heapscope::runtime
