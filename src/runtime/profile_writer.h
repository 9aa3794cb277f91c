// Turns the stack depot into a heap profile in profile.proto, named with
// ELF symbols (demangled) so that it reads well with no binary at hand, and
// with mappings carrying file names and build IDs for later DWARF
// symbolization elsewhere.
#pragma once

#include "format/proto_encoder.h"

namespace heapscope::runtime {

struct HeapProfileOptions {
  // Make alloc_space the default sample type (/debug/pprof/allocs).
  bool alloc_default = false;
};

// Writes the current heap profile into sink. Allocates only from mmap.
// Returns false if the sink failed.
bool WriteHeapProfile(format::ByteSink* sink, const HeapProfileOptions& options);

// Writes `WriteHeapProfile` gzipped into fd.
bool WriteHeapProfileGz(int fd, const HeapProfileOptions& options);

}  // namespace heapscope::runtime
