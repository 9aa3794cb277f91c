// The in-memory model of a perftools.profiles.Profile (google/pprof
// proto/profile.proto), as produced by ReadProfile (profile_reader.h).
//
// It mirrors the message, with three changes made for speed on profiles of
// millions of frames:
//   - strings are StringIndex values into one string table whose entries are
//     string_views into a buffer the Profile owns (usually the decoded bytes
//     themselves, so reading copies no string);
//   - references by id are resolved once, at read time, into dense indices
//     (Location::mapping, Line::function, the samples' locations), so readers
//     index vectors instead of looking ids up; the original ids stay in the
//     Mapping, Location and Function records;
//   - samples live in flat vectors with offsets (SampleTable) instead of one
//     heap object per sample, in LargeAllocator memory.
// A Profile is move-only: the string views point into storage it owns.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace heapscope::format {

// A one-line error message a user can act on.
struct Error {
  std::string message;
};

// A value or an Error. The reader half of format/ and analyze/ return these;
// nothing in them throws.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}              // NOLINT: implicit on purpose.
  Result(Error error) : error_(std::move(error.message)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  // The message; empty when ok().
  const std::string& error() const { return error_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  std::string error_;
};

// An allocator for the big arrays of a profile (decoded bytes, sample
// columns), which run to tens of megabytes:
//   - large blocks come straight from mmap with transparent huge pages
//     requested, which saves most of the page faults of filling them;
//   - resize() leaves new elements default-initialized (for bytes and
//     integers: not zeroed), so buffers are not written twice.
template <typename T>
class LargeAllocator {
 public:
  using value_type = T;
  // Below this, ordinary operator new.
  static constexpr size_t kMmapBytes = size_t{1} << 20;

  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) {}  // NOLINT: rebinding is implicit.

  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes < kMmapBytes) return static_cast<T*>(::operator new(bytes));
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);  // Advice only: failure changes nothing.
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kMmapBytes) {
      ::operator delete(p);
    } else {
      munmap(p, bytes);
    }
  }
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const LargeAllocator<U>&) const {
    return true;
  }
};

template <typename T>
using LargeVector = std::vector<T, LargeAllocator<T>>;

// Raw bytes: a file's contents, an inflated profile.
using ByteBuffer = LargeVector<char>;

inline std::string_view AsStringView(const ByteBuffer& b) { return {b.data(), b.size()}; }

// Index into Profile::strings(). 0 is always the empty string.
using StringIndex = uint32_t;

// Marks an absent dense reference (a Location without a Mapping).
inline constexpr uint32_t kNoIndex = UINT32_MAX;

struct ValueType {
  StringIndex type = 0;
  StringIndex unit = 0;
};

struct Label {
  StringIndex key = 0;
  StringIndex str = 0;  // 0 for numeric labels.
  int64_t num = 0;
  StringIndex num_unit = 0;
};

struct Mapping {
  uint64_t id = 0;
  uint64_t memory_start = 0;
  uint64_t memory_limit = 0;
  uint64_t file_offset = 0;
  StringIndex filename = 0;
  StringIndex build_id = 0;
  bool has_functions = false;
  bool has_filenames = false;
  bool has_line_numbers = false;
  bool has_inline_frames = false;
};

struct Line {
  uint32_t function = 0;  // Index into Profile::functions.
  int64_t line = 0;
  int64_t column = 0;
};

struct Location {
  uint64_t id = 0;
  uint64_t address = 0;
  uint32_t mapping = kNoIndex;  // Index into Profile::mappings, or kNoIndex.
  // This location's lines are Profile::lines[line_begin, line_begin +
  // line_count). Several lines form an inline chain: the first is the
  // innermost (leaf) frame, the last the function the code was inlined into.
  uint32_t line_begin = 0;
  uint32_t line_count = 0;
  bool is_folded = false;
};

struct Function {
  uint64_t id = 0;
  StringIndex name = 0;
  StringIndex system_name = 0;
  StringIndex filename = 0;
  int64_t start_line = 0;
};

// All samples, column-wise. Sample i has:
//   locations: location_index[location_offsets[i], location_offsets[i + 1]),
//              indices into Profile::locations, leaf first;
//   values:    values[i * num_values, (i + 1) * num_values), one per sample
//              type (the reader checks every sample has exactly that many);
//   labels:    labels[label_offsets[i], label_offsets[i + 1]).
class SampleTable {
 public:
  size_t size() const { return location_offsets.empty() ? 0 : location_offsets.size() - 1; }
  std::span<const uint32_t> Locations(size_t i) const {
    return {location_index.data() + location_offsets[i],
            location_index.data() + location_offsets[i + 1]};
  }
  std::span<const int64_t> Values(size_t i) const {
    return {values.data() + i * num_values, num_values};
  }
  std::span<const Label> Labels(size_t i) const {
    return {labels.data() + label_offsets[i], labels.data() + label_offsets[i + 1]};
  }

  size_t num_values = 0;
  LargeVector<uint64_t> location_offsets;  // size() + 1 entries, or none.
  LargeVector<uint32_t> location_index;
  LargeVector<int64_t> values;
  LargeVector<uint64_t> label_offsets;  // size() + 1 entries, or none.
  LargeVector<Label> labels;
};

class Profile {
 public:
  Profile() = default;
  Profile(Profile&&) = default;
  Profile& operator=(Profile&&) = default;
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  std::string_view String(StringIndex i) const { return strings_[i]; }
  std::span<const std::string_view> strings() const { return strings_; }

  // Takes ownership of the bytes the string table points into (moving a
  // vector keeps its elements where they are).
  void AdoptStorage(ByteBuffer storage) { storage_ = std::move(storage); }
  // Appends a string that has to outlive the storage of the decoded bytes
  // (e.g. names a symbolizer adds) and returns its index.
  StringIndex AddString(std::string s) {
    const std::string& kept = extra_strings_.emplace_back(std::move(s));
    strings_.emplace_back(kept);
    return static_cast<StringIndex>(strings_.size() - 1);
  }
  // Sets the string table; every view must point into adopted storage or
  // static memory.
  void SetStrings(std::vector<std::string_view> strings) { strings_ = std::move(strings); }

  // The Function a Line names.
  const Function& FunctionOf(const Line& line) const { return functions[line.function]; }
  std::span<const Line> LinesOf(const Location& loc) const {
    return {lines.data() + loc.line_begin, loc.line_count};
  }

  std::vector<ValueType> sample_types;
  SampleTable samples;
  std::vector<Mapping> mappings;
  std::vector<Location> locations;
  std::vector<Line> lines;  // All locations' lines, see Location::line_begin.
  std::vector<Function> functions;
  StringIndex drop_frames = 0;
  StringIndex keep_frames = 0;
  int64_t time_nanos = 0;
  int64_t duration_nanos = 0;
  ValueType period_type;
  int64_t period = 0;
  std::vector<StringIndex> comments;
  StringIndex default_sample_type = 0;

 private:
  ByteBuffer storage_;
  std::deque<std::string> extra_strings_;  // Elements never move.
  std::vector<std::string_view> strings_;
};

}  // namespace heapscope::format
