// The pure half of the RSS breakdown: smaps parsing, classification of
// mappings and the arithmetic that turns them into parts.
#include "runtime/memory_breakdown.h"

#include <string.h>

namespace heapscope::runtime {
namespace {

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int HexVal(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

// Parses hex digits at s[*i..n); returns false if there are none.
bool ParseHex(const char* s, size_t n, size_t* i, uintptr_t* out) {
  uintptr_t v = 0;
  size_t start = *i;
  while (*i < n && IsHex(s[*i])) v = v * 16 + static_cast<uintptr_t>(HexVal(s[(*i)++]));
  *out = v;
  return *i > start;
}

void SkipSpaces(const char* s, size_t n, size_t* i) {
  while (*i < n && (s[*i] == ' ' || s[*i] == '\t')) (*i)++;
}

void SkipToken(const char* s, size_t n, size_t* i) {
  while (*i < n && s[*i] != ' ' && s[*i] != '\t') (*i)++;
}

uint64_t Min(uint64_t a, uint64_t b) { return a < b ? a : b; }
uint64_t Sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

bool Has(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

}  // namespace

void SmapsParser::Feed(const char* data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = data[i];
    if (c == '\n') {
      Line(line_, len_);
      len_ = 0;
      cut_ = false;
      continue;
    }
    if (len_ < sizeof line_) {
      line_[len_++] = c;
    } else {
      cut_ = true;  // the rest of an over-long line is dropped
    }
  }
}

void SmapsParser::Finish() {
  if (len_ > 0) Line(line_, len_);
  len_ = 0;
  Flush();
}

void SmapsParser::Flush() {
  if (have_) cb_(cur_, ctx_);
  have_ = false;
}

void SmapsParser::Line(const char* s, size_t n) {
  if (n == 0) return;
  if (IsHex(s[0])) {
    // "start-end perms offset dev inode   path"
    size_t i = 0;
    uintptr_t start, end;
    if (!ParseHex(s, n, &i, &start) || i >= n || s[i] != '-') {
      bad_lines_++;
      return;
    }
    i++;
    if (!ParseHex(s, n, &i, &end) || i >= n || s[i] != ' ' || end < start) {
      bad_lines_++;
      return;
    }
    Flush();
    cur_ = SmapsEntry{};
    cur_.start = start;
    cur_.end = end;
    SkipSpaces(s, n, &i);
    for (int k = 0; k < 4 && i < n && s[i] != ' '; k++) cur_.perms[k] = s[i++];
    SkipToken(s, n, &i);                       // the rest of perms, if any
    for (int field = 0; field < 3; field++) {  // offset, dev, inode
      SkipSpaces(s, n, &i);
      SkipToken(s, n, &i);
    }
    SkipSpaces(s, n, &i);
    size_t plen = n - i;
    if (plen >= sizeof path_) plen = sizeof path_ - 1;
    memcpy(path_, s + i, plen);
    path_[plen] = '\0';
    cur_.path = path_;
    have_ = true;
    return;
  }
  // "Key:   1234 kB"; other fields (VmFlags, THPeligible, ...) are skipped.
  const char* colon = static_cast<const char*>(memchr(s, ':', n));
  if (colon == nullptr) {
    bad_lines_++;
    return;
  }
  if (!have_) return;
  size_t klen = static_cast<size_t>(colon - s);
  uint64_t* dst = nullptr;
  if (klen == 3 && memcmp(s, "Rss", 3) == 0) {
    dst = &cur_.rss;
  } else if (klen == 9 && memcmp(s, "Anonymous", 9) == 0) {
    dst = &cur_.anonymous;
  } else if (klen == 4 && memcmp(s, "Swap", 4) == 0) {
    dst = &cur_.swap;
  }
  if (dst == nullptr) return;
  size_t i = klen + 1;
  SkipSpaces(s, n, &i);
  uint64_t v = 0;
  size_t digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
    digits++;
  }
  if (digits == 0) {
    bad_lines_++;
    return;
  }
  SkipSpaces(s, n, &i);
  // Sizes are in kB; a bare number is taken as bytes.
  *dst = (i + 1 < n && s[i] == 'k' && s[i + 1] == 'B') ? v * 1024 : v;
}

const char* RssPartName(RssPart part) {
  switch (part) {
    case RssPart::kHeap:
      return "heap";
    case RssPart::kAllocatorOverhead:
      return "allocator_overhead";
    case RssPart::kAllocatorFree:
      return "allocator_free";
    case RssPart::kThreadStacks:
      return "thread_stacks";
    case RssPart::kAnonMappings:
      return "anon_mappings";
    case RssPart::kFiles:
      return "files";
    case RssPart::kCode:
      return "code";
    case RssPart::kOther:
      return "other";
    default:
      return "?";
  }
}

void RssClassifier::Add(const SmapsEntry& e) {
  mappings_++;
  c_.total += e.rss;
  if (e.rss == 0) return;
  const char* path = e.path;
  bool anonymous = path[0] == '\0' || Has(path, "[anon:");
  if (!anonymous) {
    if (strcmp(path, "[heap]") == 0) {
      c_.anon += e.rss;  // brk: glibc's main arena
    } else if (Has(path, "[stack")) {
      c_.stacks += e.rss;
      stack_mappings_++;
    } else if (strcmp(path, "[vdso]") == 0 || strcmp(path, "[vsyscall]") == 0) {
      c_.code += e.rss;
    } else if (path[0] == '[' && !Has(path, "[anon_shmem:")) {
      c_.special += e.rss;
    } else if (e.perms[2] == 'x') {
      c_.code += e.rss;
    } else {
      c_.files += e.rss;  // files, memfd, SysV and POSIX shared memory, devices
    }
    return;
  }
  // Anonymous: first the part the program mapped itself (resource table).
  uint64_t left = e.rss;
  uint64_t covered = 0;
  // First recorded range that ends after this mapping starts.
  size_t lo = 0, hi = nranges_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ranges_[mid].end <= e.start) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  size_t first = lo;
  for (size_t i = first; i < nranges_ && ranges_[i].start < e.end; i++) {
    uintptr_t s = ranges_[i].start > e.start ? ranges_[i].start : e.start;
    uintptr_t t = ranges_[i].end < e.end ? ranges_[i].end : e.end;
    covered += t - s;
  }
  if (covered > 0) {
    uint64_t mine;
    if (covered >= e.end - e.start) {
      mine = e.rss;
    } else {
      // Merged with memory that is not the program's: count pages.
      mine = 0;
      for (size_t i = first; i < nranges_ && ranges_[i].start < e.end; i++) {
        uintptr_t s = ranges_[i].start > e.start ? ranges_[i].start : e.start;
        uintptr_t t = ranges_[i].end < e.end ? ranges_[i].end : e.end;
        mine += resident_ != nullptr ? resident_(s, t) : 0;
      }
      mine = Min(mine, e.rss);
    }
    c_.mappings += mine;
    left -= mine;
  }
  if (left == 0) return;
  // Then a live thread's stack (glibc maps them with internal calls, so
  // they are never in the resource table).
  lo = 0;
  hi = nhints_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (hints_[mid] < e.start) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < nhints_ && hints_[lo] < e.end) {
    c_.stacks += left;
    stack_mappings_++;
    return;
  }
  c_.anon += left;
}

// The arithmetic. Every byte of c.total lands in exactly one part:
//
//   code, files, thread stacks and the program's anonymous mappings are
//   measured (resident bytes of the mappings they are); "special" kernel
//   mappings go to other.
//
//   The anonymous memory left, A (brk heap, the allocator's mmap'ed arenas
//   and large blocks, the profiler's own tables, libc's internals), is split
//   in this order, each part taking at most what is left of A:
//     heap               = live            (the sampled estimate, at most
//                          uordblks + hblkhd: no more can be in use, and
//                          with few samples the estimate can be far above)
//     (the runtime's block headers, in every-allocation mode: at most
//                          uordblks + hblkhd - heap, counted in other)
//     allocator_overhead = uordblks + hblkhd - heap - block headers
//                          (bytes in in-use chunks beyond what the program
//                          asked for: chunk headers, alignment, the page
//                          rounding of mmap'ed blocks, and any error of
//                          the estimate)
//     allocator_free     = fordblks        (free chunks and arena tops)
//     other              = the rest of A, plus special mappings
//   mallinfo2 counts address space: arena + hblkhd is what the allocator
//   holds, uordblks + hblkhd what is in use, fordblks = arena - uordblks
//   what is free. Pages never touched, or given back with MADV_DONTNEED,
//   are in those figures but not resident; capping each part at what is
//   left keeps the sum exact and leaves the error in the allocator parts
//   rather than in the measured ones.
//
//   With another allocator (jemalloc, tcmalloc), overhead and free memory
//   are unknown and stay in other or in the mappings: those allocators map
//   their arenas through mmap, so the resource table records them. The heap
//   then takes what it needs from the anonymous mappings first, the rest of
//   A second, so it is not counted twice. When glibc's figures cannot be
//   read (a final profile on a signal), the heap comes out of A and the
//   allocator's parts are unknown.
RssBreakdown Apportion(const ResidentClasses& c, uint64_t live, const AllocatorStats& a,
                       uint64_t headers) {
  RssBreakdown b;
  auto set = [&b](RssPart p, uint64_t v) { b.parts[static_cast<int>(p)] = v; };
  set(RssPart::kCode, c.code);
  set(RssPart::kFiles, c.files);
  set(RssPart::kThreadStacks, c.stacks);
  uint64_t mappings = c.mappings;
  uint64_t left = c.anon;
  uint64_t heap;
  uint64_t ours = 0;  // the runtime's block headers, in other
  if (a.known) {
    heap = Min(Min(live, a.uordblks + a.hblkhd), left);
    left -= heap;
    ours = Min(Min(headers, Sub(a.uordblks + a.hblkhd, heap)), left);
    left -= ours;
    uint64_t overhead = Min(Sub(a.uordblks + a.hblkhd, heap + ours), left);
    left -= overhead;
    uint64_t free = Min(a.fordblks, left);
    left -= free;
    set(RssPart::kAllocatorOverhead, overhead);
    set(RssPart::kAllocatorFree, free);
    b.allocator_known = true;
  } else if (!a.arenas_in_mappings) {
    heap = Min(live, left);
    left -= heap;
  } else {
    uint64_t from_maps = Min(live, mappings);
    mappings -= from_maps;
    uint64_t from_anon = Min(live - from_maps, left);
    left -= from_anon;
    heap = from_maps + from_anon;
  }
  set(RssPart::kHeap, heap);
  set(RssPart::kAnonMappings, mappings);
  set(RssPart::kOther, left + ours + c.special);
  for (uint64_t v : b.parts) b.total += v;
  return b;
}

void FormatRssComment(const MemorySnapshot& m, base::RawBuffer* out) {
  out->Str("rss=").Uint(m.rss.total);
  for (int i = 0; i < kRssPartCount; i++) {
    auto part = static_cast<RssPart>(i);
    if (!m.rss.allocator_known &&
        (part == RssPart::kAllocatorOverhead || part == RssPart::kAllocatorFree)) {
      continue;
    }
    out->Str(" rss_").Str(RssPartName(part)).Char('=').Uint(m.rss.parts[i]);
  }
  out->Str(" vm_rss=").Uint(m.vm_rss).Str(" vm_hwm=").Uint(m.vm_hwm);
  out->Str(m.rss.allocator_known ? " allocator=glibc" : " allocator=unknown");
}

void FormatRssAge(uint64_t age_ns, base::RawBuffer* out) {
  if (age_ns > 0) out->Str(" rss_age_ms=").Uint(age_ns / 1000000);
}

}  // namespace heapscope::runtime
