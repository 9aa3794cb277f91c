// Turns the stack depot into a heap profile in profile.proto, named with
// ELF symbols (demangled) so that it reads well with no binary at hand, and
// with mappings carrying file names and build IDs for later DWARF
// symbolization elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/mmap_arena.h"
#include "base/raw_log.h"
#include "format/proto_encoder.h"

namespace heapscope::runtime {

// Text output (the debug=1 forms), without allocating; remembers a failed
// write.
class TextOut {
 public:
  explicit TextOut(format::ByteSink* sink) : sink_(sink) {}
  TextOut& Str(const char* s) { return Put(s, strlen(s)); }
  TextOut& Char(char c) { return Put(&c, 1); }
  TextOut& Uint(uint64_t v) {
    char tmp[32];
    base::RawBuffer b(tmp, sizeof tmp);
    b.Uint(v);
    return Put(b.data(), b.size());
  }
  TextOut& Int(int64_t v) {
    char tmp[32];
    base::RawBuffer b(tmp, sizeof tmp);
    b.Int(v);
    return Put(b.data(), b.size());
  }
  TextOut& Hex(uint64_t v) {  // 0x...
    char tmp[32];
    base::RawBuffer b(tmp, sizeof tmp);
    b.Hex(v);
    return Put(b.data(), b.size());
  }
  TextOut& Put(const char* s, size_t n) {
    if (ok_ && !sink_->Append(s, n)) ok_ = false;
    return *this;
  }
  bool ok() const { return ok_; }

 private:
  format::ByteSink* sink_;
  bool ok_ = true;
};

class SymbolCache;  // symbol_cache.h

// A stack's allocation counters at one moment (fixed point), for delta
// profiles: index id-1 holds stack id's.
struct AllocBase {
  uint64_t objects_fx;
  uint64_t bytes_fx;
};

struct HeapProfileOptions {
  // Make alloc_space the default sample type (/debug/pprof/allocs).
  bool alloc_default = false;
  // Symbol tables to use; nullptr: the dump thread's.
  SymbolCache* symbols = nullptr;
  // Delta profile: alloc values are the differences from these counters
  // (taken by CaptureAllocBase), in-use values the current ones.
  const AllocBase* alloc_base = nullptr;
  size_t alloc_base_count = 0;
  // Overrides the profile's duration (delta profiles); 0: since start.
  uint64_t duration_ns = 0;
  // A snapshot written because the memory held passed this percentage of
  // the cgroup's memory limit (dumper.cc): said in a comment
  // (`memory_pressure=`); 0: not such a snapshot.
  uint32_t memory_pressure = 0;
};

// Copies every stack's allocation counters into out (as AllocBase[]).
// Returns the number of stacks, or 0 with out empty if memory failed.
size_t CaptureAllocBase(base::MmapBuffer* out);

// Writes the current heap profile into sink. Allocates only from mmap.
// Returns false if the sink failed.
bool WriteHeapProfile(format::ByteSink* sink, const HeapProfileOptions& options);

// Writes `WriteHeapProfile` gzipped into fd.
bool WriteHeapProfileGz(int fd, const HeapProfileOptions& options);

// Writes `WriteHeapProfile` gzipped into another sink.
bool WriteHeapProfileGz(format::ByteSink* out, const HeapProfileOptions& options);

// Writes the profile as text, in the manner of Go's legacy heap profile
// (?debug=1): a "heap profile: ..." header, one line per stack with its
// in-use and allocated objects and bytes and its return addresses, then
// one "#" line per frame with the function name, then "# heapscope" lines.
bool WriteHeapProfileText(format::ByteSink* out, const HeapProfileOptions& options);

// Profiles of other resources (descriptors, threads, mappings): one sample
// per entry, with exact values and labels, written by the same builder as
// the heap profile so that locations, functions and mappings read alike.
struct ProfileLabel {
  const char* key;
  const char* str;  // nullptr: a numeric label
  int64_t num;
};

struct StackSample {
  const uintptr_t* frames;  // return addresses, leaf first
  int depth;
  bool truncated;
  // A pseudo frame named so (e.g. "[inherited]"), outermost; or nullptr.
  const char* pseudo;
  int64_t values[2];
  ProfileLabel labels[4];
  int nlabels;
};

struct StackProfile {
  const char* sample_types[2][2];  // {type, unit}
  int ntypes;
  const char* period_type[2];
  const char* default_type;  // nullptr: the first
  const StackSample* samples;
  size_t nsamples;
  const char* comments[4];
  int ncomments;
  SymbolCache* symbols;  // nullptr: the dump thread's
  int64_t period = 1;
  uint64_t duration_ns = 0;  // 0: since the runtime started
};

// Strings referred to by the profile must live until it is written.
bool WriteStackProfileGz(format::ByteSink* out, const StackProfile& p);
bool WriteStackProfileGz(int fd, const StackProfile& p);

// Sums over every stack, rounded to whole objects and bytes.
struct HeapTotals {
  uint64_t alloc_objects = 0;
  uint64_t alloc_bytes = 0;
  uint64_t free_objects = 0;
  uint64_t free_bytes = 0;
  uint64_t inuse_objects = 0;
  uint64_t inuse_bytes = 0;
  uint64_t peak_inuse_bytes = 0;
  uint64_t stacks = 0;
};
HeapTotals ComputeHeapTotals();

}  // namespace heapscope::runtime
