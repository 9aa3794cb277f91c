#include "format/legacy_heap.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace heapscope::format {
namespace {

// pprof's allocRxStr (legacy_profile.go): allocator entry points and
// internals that heap profiles of C/C++ programs drop.
constexpr std::string_view kAllocDropFrames =
    "calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|"
    "realloc|tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|"
    "tc_posix_memalign|tc_pvalloc|tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|"
    "tc_deletearray|tc_new_nothrow|tc_newarray_nothrow|malloc_zone_malloc|"
    "malloc_zone_calloc|malloc_zone_valloc|malloc_zone_realloc|malloc_zone_memalign|"
    "malloc_zone_free|runtime\\..*|BaseArena::.*|(::)?do_malloc_no_errno|"
    "(::)?do_malloc_pages|(::)?do_malloc|DoSampledAllocation|"
    "MallocedMemBlock::MallocedMemBlock|_M_allocate|__builtin_(vec_)?delete|"
    "__builtin_(vec_)?new|__gnu_cxx::new_allocator::allocate|__libc_malloc|"
    "__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|"
    "simple_alloc::allocate";

// A cursor over one line.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  void SkipSpaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) i_++;
  }
  bool Done() {
    SkipSpaces();
    return i_ >= s_.size();
  }
  bool Consume(std::string_view what) {
    SkipSpaces();
    if (s_.substr(i_).starts_with(what)) {
      i_ += what.size();
      return true;
    }
    return false;
  }
  // A decimal integer, optionally negative; false on none or overflow.
  bool Int(int64_t* out) {
    SkipSpaces();
    bool neg = false;
    if (i_ < s_.size() && s_[i_] == '-') {
      neg = true;
      i_++;
    }
    size_t start = i_;
    uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (uint64_t{INT64_MAX} - 9) / 10) return false;
      v = v * 10 + static_cast<uint64_t>(s_[i_] - '0');
      i_++;
    }
    if (i_ == start) return false;
    *out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }
  // "0x..." with 1-16 hex digits.
  bool Hex(uint64_t* out) {
    SkipSpaces();
    if (!s_.substr(i_).starts_with("0x")) return false;
    i_ += 2;
    size_t start = i_;
    uint64_t v = 0;
    while (i_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_]))) {
      if (i_ - start >= 16) return false;
      char c = s_[i_++];
      v = v * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    if (i_ == start) return false;
    *out = v;
    return true;
  }
  std::string_view Rest() const { return s_.substr(std::min(i_, s_.size())); }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Splits text into lines, tracking line numbers for errors.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}
  bool Next(std::string_view* line) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) nl = text_.size();
    *line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    number_++;
    return true;
  }
  size_t number() const { return number_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t number_ = 0;
};

bool IsMapSentinel(std::string_view line) {
  return line.find("MAPPED_LIBRARIES:") != std::string_view::npos ||
         line.find("--- Memory map: ---") != std::string_view::npos;
}

// Assembles a heap Profile from stacks and /proc/maps lines.
class HeapBuilder {
 public:
  HeapBuilder(int64_t rate, std::string_view format_name) : rate_(rate) {
    strings_.emplace("", p_.AddString(""));
    const char* types[4][2] = {{"alloc_objects", "count"},
                               {"alloc_space", "bytes"},
                               {"inuse_objects", "count"},
                               {"inuse_space", "bytes"}};
    for (auto& t : types) p_.sample_types.push_back({Str(t[0]), Str(t[1])});
    p_.default_sample_type = p_.sample_types[3].type;
    p_.samples.num_values = 4;
    p_.samples.location_offsets.push_back(0);
    p_.samples.label_offsets.push_back(0);
    p_.period_type = {Str("space"), Str("bytes")};
    p_.period = rate < 1 ? 1 : rate;
    p_.drop_frames = Str(std::string(kAllocDropFrames));
    p_.comments.push_back(Str("heapscope: converted from " + std::string(format_name) +
                              ", rate=" + std::to_string(p_.period)));
  }

  StringIndex Str(const std::string& s) {
    auto it = strings_.find(s);
    if (it != strings_.end()) return it->second;
    StringIndex i = p_.AddString(s);
    strings_.emplace(s, i);
    return i;
  }

  // pprof's scaleHeapSample.
  void Scale(int64_t* count, int64_t* size) const {
    if (*count == 0 || *size == 0) {
      *count = *size = 0;
      return;
    }
    if (rate_ <= 1) return;
    double avg = static_cast<double>(*size) / static_cast<double>(*count);
    double scale = 1 / (1 - std::exp(-avg / static_cast<double>(rate_)));
    *count = static_cast<int64_t>(static_cast<double>(*count) * scale);
    *size = static_cast<int64_t>(static_cast<double>(*size) * scale);
  }

  // values: inuse count, inuse size, alloc count, alloc size (as written).
  void AddSample(const std::vector<uint64_t>& addrs, int64_t v[4]) {
    Scale(&v[0], &v[1]);
    Scale(&v[2], &v[3]);
    for (uint64_t a : addrs) {
      // Return addresses point after the call; step back onto it.
      const uint64_t pc = a > 0 ? a - 1 : 0;
      auto [it, inserted] = location_by_pc_.emplace(pc, 0);
      if (inserted) {
        Location loc;
        loc.id = p_.locations.size() + 1;
        loc.address = pc;
        p_.locations.push_back(loc);
        it->second = static_cast<uint32_t>(p_.locations.size() - 1);
      }
      p_.samples.location_index.push_back(it->second);
    }
    p_.samples.location_offsets.push_back(p_.samples.location_index.size());
    p_.samples.label_offsets.push_back(0);
    const int64_t ordered[4] = {v[2], v[3], v[0], v[1]};
    p_.samples.values.insert(p_.samples.values.end(), ordered, ordered + 4);
  }

  // One /proc/PID/maps line: "start-end perms offset dev inode [path]".
  // Lines that do not parse, and non-executable ones, are skipped, as pprof
  // does.
  void AddMapsLine(std::string_view line) {
    Cursor c(line);
    uint64_t start = 0, end = 0, offset = 0;
    auto hex = [&](uint64_t* out) {
      c.SkipSpaces();
      std::string_view rest = c.Rest();
      size_t n = 0;
      uint64_t v = 0;
      while (n < rest.size() && n < 16 && std::isxdigit(static_cast<unsigned char>(rest[n]))) {
        char ch = rest[n++];
        v = v * 16 + static_cast<uint64_t>(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
      }
      if (n == 0) return false;
      c = Cursor(rest.substr(n));
      *out = v;
      return true;
    };
    if (!hex(&start) || !c.Consume("-") || !hex(&end) || end <= start) return;
    c.SkipSpaces();
    std::string_view rest = c.Rest();
    size_t sp = rest.find_first_of(" \t");
    std::string_view perms = rest.substr(0, sp);
    if (perms.size() != 4 || perms.find('x') == std::string_view::npos) return;
    c = Cursor(sp == std::string_view::npos ? std::string_view() : rest.substr(sp));
    if (!hex(&offset)) return;
    // dev, inode, then the path (which may contain spaces).
    c.SkipSpaces();
    rest = c.Rest();
    for (int field = 0; field < 2; field++) {
      size_t e = rest.find_first_of(" \t");
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
      while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
    }
    while (!rest.empty() && (rest.back() == '\r' || rest.back() == ' ')) rest.remove_suffix(1);
    Mapping m;
    m.id = p_.mappings.size() + 1;
    m.memory_start = start;
    m.memory_limit = end;
    m.file_offset = offset;
    m.filename = Str(std::string(rest));
    p_.mappings.push_back(m);
  }

  // `allocator_library`: a file name part (e.g. "libjemalloc") whose
  // frames at the leaf end of every stack are cut off (see ReadJemallocHeap).
  Profile Finish(std::string_view allocator_library = "") {
    // Each location to the mapping holding its address.
    std::vector<uint32_t> order(p_.mappings.size());
    for (uint32_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return p_.mappings[a].memory_start < p_.mappings[b].memory_start;
    });
    for (Location& loc : p_.locations) {
      auto it = std::upper_bound(
          order.begin(), order.end(), loc.address,
          [&](uint64_t addr, uint32_t m) { return addr < p_.mappings[m].memory_start; });
      if (it == order.begin()) continue;
      const Mapping& m = p_.mappings[*(it - 1)];
      if (loc.address < m.memory_limit) loc.mapping = *(it - 1);
    }
    if (!allocator_library.empty()) StripAllocatorFrames(allocator_library);
    return std::move(p_);
  }

 private:
  void StripAllocatorFrames(std::string_view library) {
    std::vector<uint8_t> inside(p_.mappings.size(), 0);
    for (size_t i = 0; i < p_.mappings.size(); i++) {
      inside[i] = p_.String(p_.mappings[i].filename).find(library) != std::string_view::npos;
    }
    SampleTable& t = p_.samples;
    LargeVector<uint32_t> kept;
    kept.reserve(t.location_index.size());
    for (size_t i = 0; i < t.size(); i++) {
      std::span<const uint32_t> locs = t.Locations(i);
      size_t skip = 0;
      while (skip < locs.size()) {
        const uint32_t m = p_.locations[locs[skip]].mapping;
        if (m == kNoIndex || !inside[m]) break;
        skip++;
      }
      if (skip == locs.size()) skip = 0;  // All inside: keep what there is.
      t.location_offsets[i] = kept.size();
      kept.insert(kept.end(), locs.begin() + static_cast<std::ptrdiff_t>(skip), locs.end());
    }
    t.location_offsets[t.size()] = kept.size();
    t.location_index = std::move(kept);
  }

  int64_t rate_;
  Profile p_;
  std::unordered_map<std::string, StringIndex> strings_;
  std::unordered_map<uint64_t, uint32_t> location_by_pc_;
};

Error LineError(std::string_view source, size_t line, const std::string& what) {
  return Error{std::string(source) + ":" + std::to_string(line) + ": " + what};
}

// "N: M [N: M]" into v (inuse count, size, alloc count, size).
bool ParseCounts(Cursor& c, int64_t v[4]) {
  return c.Int(&v[0]) && c.Consume(":") && c.Int(&v[1]) && c.Consume("[") && c.Int(&v[2]) &&
         c.Consume(":") && c.Int(&v[3]) && c.Consume("]");
}

std::string CheckCounts(const int64_t v[4]) {
  if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return "negative count or size";
  if (v[0] == 0 && v[1] != 0) return "0 objects in use but " + std::to_string(v[1]) + " bytes";
  if (v[2] == 0 && v[3] != 0) return "0 objects allocated but " + std::to_string(v[3]) + " bytes";
  return "";
}

// Address lists: "0x1 0x2 ...", at least one.
bool ParseAddresses(Cursor& c, std::vector<uint64_t>* out) {
  out->clear();
  while (!c.Done()) {
    uint64_t a;
    if (!c.Hex(&a)) return false;
    out->push_back(a);
  }
  return true;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n')) {
    s.remove_prefix(1);
  }
  return s;
}

constexpr size_t kMaxStackDepth = 4096;

}  // namespace

bool LooksLikeGperftoolsHeap(std::string_view text) {
  return TrimLeft(text).starts_with("heap profile:");
}

bool LooksLikeJemallocHeap(std::string_view text) { return TrimLeft(text).starts_with("heap_v2/"); }

Result<Profile> ReadGperftoolsHeap(std::string_view text, std::string_view source) {
  Lines lines(text);
  std::string_view line;
  do {
    if (!lines.Next(&line)) return Error{std::string(source) + ": empty heap profile"};
  } while (TrimLeft(line).empty());
  Cursor c(line);
  int64_t totals[4];
  if (!c.Consume("heap profile:") || !ParseCounts(c, totals) || !c.Consume("@")) {
    return LineError(source, lines.number(),
                     "not a gperftools heap profile header (\"heap profile: N: M [N: M] @ "
                     "heapprofile\")");
  }
  c.SkipSpaces();
  std::string_view tag = c.Rest();
  int64_t rate = 1;
  std::string_view kind = tag.substr(0, tag.find_first_of("/ \t\r"));
  int64_t number = 0;
  if (size_t slash = tag.find('/'); slash != std::string_view::npos) {
    Cursor r(tag.substr(slash + 1));
    if (!r.Int(&number) || number < 0) {
      return LineError(source, lines.number(), "bad sampling rate after '/'");
    }
  }
  if (kind == "heapprofile") {
    rate = 1;
  } else if (kind == "heap_v2" || kind == "heapz_v2") {
    rate = number;
  } else if (kind == "heap") {
    rate = number / 2;  // Go's legacy format writes twice the rate.
  } else {
    return LineError(source, lines.number(),
                     "unknown heap profile kind \"" + std::string(kind) +
                         "\" (expected heapprofile, heap_v2 or heap)");
  }
  HeapBuilder b(rate, "a gperftools heap profile");
  std::vector<uint64_t> addrs;
  bool maps = false;
  while (lines.Next(&line)) {
    std::string_view t = TrimLeft(line);
    if (maps) {
      b.AddMapsLine(t);
      continue;
    }
    if (t.empty() || t[0] == '#') continue;
    if (IsMapSentinel(t)) {
      maps = true;
      continue;
    }
    Cursor s(t);
    int64_t v[4];
    if (!ParseCounts(s, v) || !s.Consume("@")) {
      return LineError(source, lines.number(), "expected \"N: M [N: M] @ 0xADDR ...\"");
    }
    if (std::string e = CheckCounts(v); !e.empty()) return LineError(source, lines.number(), e);
    if (!ParseAddresses(s, &addrs)) {
      return LineError(source, lines.number(), "bad address (expected 0x and 1-16 hex digits)");
    }
    if (addrs.size() > kMaxStackDepth) {
      return LineError(source, lines.number(), "stack deeper than 4096 frames");
    }
    b.AddSample(addrs, v);
  }
  return b.Finish();
}

Result<Profile> ReadJemallocHeap(std::string_view text, std::string_view source) {
  Lines lines(text);
  std::string_view line;
  do {
    if (!lines.Next(&line)) return Error{std::string(source) + ": empty heap profile"};
  } while (TrimLeft(line).empty());
  Cursor c(TrimLeft(line));
  int64_t rate = 0;
  if (!c.Consume("heap_v2/") || !c.Int(&rate) || rate < 0 || !c.Done()) {
    return LineError(source, lines.number(), "not a jemalloc heap_v2 header (\"heap_v2/RATE\")");
  }
  HeapBuilder b(rate, "a jemalloc heap_v2 dump");
  std::vector<uint64_t> addrs;
  bool have_stack = false;  // An "@" line waits for its "t*:" line.
  bool maps = false;
  while (lines.Next(&line)) {
    std::string_view t = TrimLeft(line);
    if (maps) {
      b.AddMapsLine(t);
      continue;
    }
    if (t.empty() || t[0] == '#') continue;
    if (IsMapSentinel(t)) {
      maps = true;
      continue;
    }
    Cursor s(t);
    if (s.Consume("@")) {
      if (have_stack) {
        return LineError(source, lines.number(), "stack without a \"t*:\" line before it");
      }
      if (!ParseAddresses(s, &addrs)) {
        return LineError(source, lines.number(), "bad address (expected 0x and 1-16 hex digits)");
      }
      if (addrs.size() > kMaxStackDepth) {
        return LineError(source, lines.number(), "stack deeper than 4096 frames");
      }
      have_stack = true;
      continue;
    }
    if (!s.Consume("t")) {
      return LineError(source, lines.number(), "expected \"@ 0xADDR ...\" or \"t*: N: M [N: M]\"");
    }
    const bool all_threads = s.Consume("*");
    if (!all_threads) {
      int64_t thread;
      if (!s.Int(&thread)) return LineError(source, lines.number(), "bad thread number");
    }
    int64_t v[4];
    if (!s.Consume(":") || !ParseCounts(s, v) || !s.Done()) {
      return LineError(source, lines.number(), "expected \"tN: N: M [N: M]\"");
    }
    if (std::string e = CheckCounts(v); !e.empty()) return LineError(source, lines.number(), e);
    // The first t*: line is the process total; per-thread lines repeat
    // what the t*: line of their stack says.
    if (all_threads && have_stack) {
      b.AddSample(addrs, v);
      have_stack = false;
    }
  }
  if (have_stack) return LineError(source, lines.number(), "last stack has no \"t*:\" line");
  // jemalloc's stacks start inside jemalloc (prof_backtrace and the static
  // functions malloc tail-calls), which a stripped libjemalloc cannot name
  // for drop_frames to find: cut them off by file.
  return b.Finish("libjemalloc");
}

}  // namespace heapscope::format
