// Where resident memory goes: the process's resident set split into parts
// that add up to it, from /proc/self/smaps (resident bytes of every
// mapping), the runtime's heap estimate, the allocator's own statistics
// (glibc's mallinfo2) and the resource tables (thread stacks, anonymous
// mappings the program made). Read by the dump thread and the HTTP thread,
// never in a hook. Nothing here allocates through malloc: text is read
// into stack buffers, tables are copied into mmap'ed memory.
//
// The parser and the arithmetic are pure functions, tested without /proc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/raw_log.h"

namespace heapscope::runtime {

// ---- /proc/self/smaps and /proc/self/smaps_rollup text.

// One mapping: its header line and the fields that matter here (bytes).
struct SmapsEntry {
  uintptr_t start = 0;
  uintptr_t end = 0;
  char perms[5] = {0};     // "r-xp"
  const char* path = "";   // "" for anonymous memory; "[heap]", "/usr/lib/..."
  uint64_t rss = 0;        // Rss
  uint64_t anonymous = 0;  // Anonymous
  uint64_t swap = 0;       // Swap
};

// Line-oriented and incremental: feed the text in chunks of any size; each
// mapping is handed to the callback once its fields are read. Lines longer
// than the internal buffer are cut (only a path can be that long). The
// rollup file is one entry whose path is "[rollup]".
class SmapsParser {
 public:
  using Callback = void (*)(const SmapsEntry& e, void* ctx);
  SmapsParser(Callback cb, void* ctx) : cb_(cb), ctx_(ctx) {}
  void Feed(const char* data, size_t n);
  // Ends the last line and the last entry.
  void Finish();
  // Lines that were neither a header nor a field.
  uint64_t bad_lines() const { return bad_lines_; }

 private:
  void Line(const char* s, size_t n);
  void Flush();

  Callback cb_;
  void* ctx_;
  char line_[4608] = {};
  size_t len_ = 0;
  bool cut_ = false;
  bool have_ = false;
  SmapsEntry cur_;
  char path_[4096] = {};
  uint64_t bad_lines_ = 0;
};

// ---- The parts.

enum class RssPart {
  kHeap = 0,           // live heap: the runtime's estimate of bytes in live objects
  kAllocatorOverhead,  // chunk headers, alignment and page rounding around them
  kAllocatorFree,      // free memory the allocator keeps (free chunks, top of arenas)
  kThreadStacks,       // main stack and stacks of live threads the program created
  kAnonMappings,       // anonymous mmap the program made itself (outside the allocator)
  kFiles,              // file-backed data: mapped files, data of binaries, shared memory
  kCode,               // executable file mappings and the vDSO
  kOther,              // the remainder: the profiler's own memory, libc internals, ...
  kCount,
};
inline constexpr int kRssPartCount = static_cast<int>(RssPart::kCount);
// Names used in /debug/vars, /metrics and profile comments ("heap",
// "allocator_overhead", ...).
const char* RssPartName(RssPart part);

// Resident bytes of each kind of mapping, as the classifier found them.
struct ResidentClasses {
  uint64_t total = 0;     // every mapping's Rss
  uint64_t code = 0;      // file-backed executable, [vdso]
  uint64_t files = 0;     // other file-backed, shared memory, device mappings
  uint64_t stacks = 0;    // [stack] and mappings holding a live thread's stack
  uint64_t mappings = 0;  // the program's own anonymous mmap (resource table)
  uint64_t anon = 0;      // other anonymous memory: [heap], the allocator's, ours
  uint64_t special = 0;   // other kernel-named mappings ([vvar], ...)
};

// What the allocator says about itself (address space, not residency).
struct AllocatorStats {
  bool known = false;
  // The allocator maps its arenas through mmap, where the resource table
  // records them (jemalloc, tcmalloc): the heap is inside the anonymous
  // mappings, not beside them.
  bool arenas_in_mappings = false;
  uint64_t arena = 0;     // mallinfo2.arena: bytes the arenas got from the system
  uint64_t hblkhd = 0;    // mallinfo2.hblkhd: bytes in chunks mmap'ed one by one
  uint64_t uordblks = 0;  // mallinfo2.uordblks: bytes in in-use arena chunks
  uint64_t fordblks = 0;  // mallinfo2.fordblks: bytes in free arena chunks and tops
};

struct RssBreakdown {
  uint64_t parts[kRssPartCount] = {};
  uint64_t total = 0;  // the sum of the parts: resident bytes from smaps
  bool allocator_known = false;
  uint64_t Part(RssPart p) const { return parts[static_cast<int>(p)]; }
};

// Splits the resident classes into parts that add up to classes.total.
// live: the heap estimate; the allocator's figures are taken where the
// anonymous memory left allows (they are address-space figures, and may
// exceed what is resident). headers: bytes of the runtime's own block
// headers inside the in-use chunks (every-allocation mode), counted with
// the profiler's memory in other rather than as the allocator's overhead.
// See memory_breakdown.cc for the arithmetic.
RssBreakdown Apportion(const ResidentClasses& c, uint64_t live, const AllocatorStats& a,
                       uint64_t headers = 0);

// ---- Classifying mappings.

struct AddressRange {
  uintptr_t start, end;
};

// Assigns each mapping's Rss to a class. stack_hints: sorted addresses known
// to lie in live threads' stacks; ranges: sorted, disjoint anonymous ranges
// the program mapped. resident: resident bytes of [start, end) of an
// anonymous mapping (mincore), for mappings only partly the program's.
class RssClassifier {
 public:
  using ResidentFn = uint64_t (*)(uintptr_t start, uintptr_t end);
  RssClassifier(const uintptr_t* stack_hints, size_t nhints, const AddressRange* ranges,
                size_t nranges, ResidentFn resident)
      : hints_(stack_hints),
        nhints_(nhints),
        ranges_(ranges),
        nranges_(nranges),
        resident_(resident) {}
  void Add(const SmapsEntry& e);
  static void AddTo(const SmapsEntry& e, void* self) { static_cast<RssClassifier*>(self)->Add(e); }
  const ResidentClasses& classes() const { return c_; }
  uint64_t stack_mappings() const { return stack_mappings_; }
  uint64_t mappings() const { return mappings_; }  // entries seen: the process's mappings

 private:
  const uintptr_t* hints_;
  size_t nhints_;
  const AddressRange* ranges_;
  size_t nranges_;
  ResidentFn resident_;
  ResidentClasses c_;
  uint64_t stack_mappings_ = 0;
  uint64_t mappings_ = 0;
};

// ---- Reading it all now (dump thread, HTTP thread).

struct MemorySnapshot {
  bool ok = false;  // smaps could be read
  RssBreakdown rss;
  uint64_t vm_rss = 0;               // /proc/self/status VmRSS
  uint64_t vm_hwm = 0;               // VmHWM
  uint64_t live_heap = 0;            // the estimate the heap part started from
  uint64_t thread_stacks_found = 0;  // mappings counted as thread stacks
  uint64_t mappings = 0;             // the process's mappings (smaps entries)
  AllocatorStats allocator;
};

// live_heap: the runtime's in-use estimate (bytes); headers: the bytes of
// the runtime's block headers in use (HeaderBytes in recorder.h).
MemorySnapshot ReadMemorySnapshot(uint64_t live_heap, uint64_t headers);

// For the heap profile's comment, written with every snapshot. Reading
// smaps walks the page tables (about as long as smaps_rollup: tens of ms
// for a few hundred MiB resident, and it holds off the program's mmap and
// munmap meanwhile), so reads are spaced to keep them under 5% of the
// time: until then the last reading is reused and *age_ns says how old it
// is (0 when fresh). The final profile always reads afresh.
MemorySnapshot ReadMemorySnapshotBudgeted(uint64_t live_heap, uint64_t headers,
                                          uint64_t* age_ns);
void ForceFreshMemorySnapshot();
// In a forked child: forgets the parent's reading (and a lock another
// thread may have held at fork).
void ResetMemorySnapshotAfterFork();

// From now on, leave the allocator's statistics out: the process is ending
// on a signal that may have interrupted a thread inside malloc, and
// mallinfo2 takes every arena's lock.
void AvoidAllocatorLocks();

// "rss=... rss_heap=... ... vm_rss=... allocator=glibc|unknown" (no
// prefix), the form of the heap profile's comment.
void FormatRssComment(const MemorySnapshot& m, base::RawBuffer* out);
// ... and " rss_age_ms=N" for a reading reused from N ms ago.
void FormatRssAge(uint64_t age_ns, base::RawBuffer* out);

}  // namespace heapscope::runtime
