#include "format/profile_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/base.h"
#include "format/gzip.h"
#include "format/profile_fields.h"

// Lambdas in the decoding loops must inline like the code around them.
#define HS_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))

namespace heapscope::format {
namespace {

namespace f = pb;

// Where a decode failed and why. `what` is empty for truncation.
struct DecodeError {
  size_t pos = 0;
  bool truncated = false;
  std::string what;
};

// Maps the ids of one kind of record to their dense index. Ids are usually
// 1..n in order (pprof's and heapscope's writers do that), which a vector
// handles; anything else goes to a hash map.
class IdIndex {
 public:
  // Returns false and sets `*bad` to the offending id on a zero or
  // duplicate id; `*duplicate` tells which.
  template <typename Record>
  bool Build(const std::vector<Record>& records, uint64_t* bad, bool* duplicate) {
    uint64_t max_id = 0;
    for (const Record& r : records) max_id = std::max(max_id, r.id);
    dense_.clear();
    sparse_.clear();
    bool use_dense = max_id <= 2 * uint64_t{records.size()} + 1024;
    if (use_dense) dense_.assign(max_id + 1, kNoIndex);
    for (size_t i = 0; i < records.size(); i++) {
      uint64_t id = records[i].id;
      if (id == 0) {
        *bad = 0;
        *duplicate = false;
        return false;
      }
      bool inserted;
      if (use_dense) {
        inserted = dense_[id] == kNoIndex;
        if (inserted) dense_[id] = static_cast<uint32_t>(i);
      } else {
        inserted = sparse_.emplace(id, static_cast<uint32_t>(i)).second;
      }
      if (!inserted) {
        *bad = id;
        *duplicate = true;
        return false;
      }
    }
    return true;
  }

  // The index of `id`, or kNoIndex.
  HS_ALWAYS_INLINE uint32_t Find(uint64_t id) const {
    if (id < dense_.size()) [[likely]]
      return dense_[id];
    return FindSparse(id);
  }

 private:
  HS_NOINLINE uint32_t FindSparse(uint64_t id) const {
    if (sparse_.empty()) return kNoIndex;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? kNoIndex : it->second;
  }

 public:
 private:
  std::vector<uint32_t> dense_;
  std::unordered_map<uint64_t, uint32_t> sparse_;
};

// A cursor over one protobuf message. All reads are bounds-checked; on
// failure they record a DecodeError and return false.
class Cursor {
 public:
  Cursor(const uint8_t* base, const uint8_t* begin, const uint8_t* end, DecodeError* err)
      : base_(base), p_(begin), end_(end), err_(err) {}

  bool done() const { return p_ >= end_; }
  size_t pos() const { return static_cast<size_t>(p_ - base_); }

  // Ids and values are mostly one or two bytes long: those are decoded
  // inline, the rest out of line.
  HS_ALWAYS_INLINE bool Varint(uint64_t* out) {
    if (end_ - p_ >= 2) [[likely]] {
      if (p_[0] < 0x80) {
        *out = *p_++;
        return true;
      }
      if (p_[1] < 0x80) {
        *out = (p_[0] & 0x7fu) | uint64_t{p_[1]} << 7;
        p_ += 2;
        return true;
      }
    }
    return VarintSlow(out);
  }

  // Reads a tag; splits it into field number and wire type.
  bool Tag(uint32_t* field, uint32_t* wire) {
    size_t at = pos();
    uint64_t tag = 0;
    if (!Varint(&tag)) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *wire = static_cast<uint32_t>(tag & 7);
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return Fail(at, "invalid field number 0");
    return true;
  }

  // Reads a length prefix and returns the [begin, end) it delimits.
  HS_ALWAYS_INLINE bool Bytes(const uint8_t** begin, const uint8_t** end) {
    uint64_t n = 0;
    if (!Varint(&n)) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return Truncated(end_);
    *begin = p_;
    p_ += n;
    *end = p_;
    return true;
  }

  bool Skip(uint32_t field, uint32_t wire) {
    switch (wire) {
      case f::kVarint: {
        uint64_t ignored = 0;
        return Varint(&ignored);
      }
      case f::kFixed64:
        return Advance(8);
      case f::kFixed32:
        return Advance(4);
      case f::kLengthDelimited: {
        const uint8_t* b;
        const uint8_t* e;
        return Bytes(&b, &e);
      }
      default:
        return BadWireType(field, wire);
    }
  }

  bool BadWireType(uint32_t field, uint32_t wire) {
    return Fail(
        pos(), "field " + std::to_string(field) + " has invalid wire type " + std::to_string(wire));
  }

  // Reads a singular varint field, checking its wire type.
  bool VarintField(uint32_t field, uint32_t wire, uint64_t* out) {
    if (wire != f::kVarint) return BadWireType(field, wire);
    return Varint(out);
  }
  bool Int64Field(uint32_t field, uint32_t wire, int64_t* out) {
    uint64_t v = 0;
    if (!VarintField(field, wire, &v)) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  bool BoolField(uint32_t field, uint32_t wire, bool* out) {
    uint64_t v = 0;
    if (!VarintField(field, wire, &v)) return false;
    *out = v != 0;
    return true;
  }

  // A repeated varint field in either encoding: one value (wire type 0) or
  // a packed run (wire type 2). Calls add(value) for each.
  template <typename Add>
  HS_ALWAYS_INLINE bool RepeatedVarint(uint32_t field, uint32_t wire, Add&& add) {
    if (wire == f::kVarint) {
      uint64_t v = 0;
      if (!Varint(&v)) return false;
      add(v);
      return true;
    }
    if (wire != f::kLengthDelimited) return BadWireType(field, wire);
    const uint8_t* b;
    const uint8_t* e;
    if (!Bytes(&b, &e)) return false;
    Cursor packed(base_, b, e, err_);
    while (!packed.done()) {
      uint64_t v = 0;
      if (!packed.Varint(&v)) return false;
      add(v);
    }
    return true;
  }

  // A nested message: returns a cursor over its bytes.
  bool Message(uint32_t field, uint32_t wire, Cursor* sub) {
    if (wire != f::kLengthDelimited) return BadWireType(field, wire);
    const uint8_t* b;
    const uint8_t* e;
    if (!Bytes(&b, &e)) return false;
    *sub = Cursor(base_, b, e, err_);
    return true;
  }

  bool Fail(size_t at, std::string what) {
    err_->pos = at;
    err_->truncated = false;
    err_->what = std::move(what);
    return false;
  }

 private:
  bool Truncated(const uint8_t* at) {
    err_->pos = static_cast<size_t>(at - base_);
    err_->truncated = true;
    err_->what.clear();
    return false;
  }

  bool Advance(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) return Truncated(end_);
    p_ += n;
    return true;
  }

  HS_NOINLINE bool VarintSlow(uint64_t* out) {
    uint64_t v = 0;
    const uint8_t* start = p_;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ >= end_) return Truncated(end_);
      uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *out = v;
        return true;
      }
    }
    return Fail(static_cast<size_t>(start - base_), "varint longer than 10 bytes");
  }

  const uint8_t* base_;
  const uint8_t* p_;
  const uint8_t* end_;
  DecodeError* err_;
};

struct Span {
  uint64_t begin;
  uint64_t end;
};

// Decodes one Profile message in two passes. Pass one reads every top-level
// field, decoding everything but samples, whose spans it records. Pass two,
// once all locations are known, decodes the samples straight into their
// final form with location ids resolved.
class ProfileDecoder {
 public:
  ProfileDecoder(const ByteBuffer& bytes, std::string_view source)
      : base_(reinterpret_cast<const uint8_t*>(bytes.data())),
        size_(bytes.size()),
        source_(source) {}

  Result<Profile> Decode(Profile profile) {
    p_ = &profile;
    if (!TopLevel()) return DecodeFailure();
    if (auto e = ResolveAndCheck(); !e.empty()) return Invalid(e);
    if (!Samples()) {
      if (!err_.what.empty() && err_.pos == kCheckFailure) return Invalid(err_.what);
      return DecodeFailure();
    }
    return profile;
  }

 private:
  // Marks a DecodeError that is a semantic check, not a byte-level problem.
  static constexpr size_t kCheckFailure = SIZE_MAX;

  Error DecodeFailure() const {
    if (first_field_failed_ || LooksLikeText()) {
      return Error{std::string(source_) + ": not a profile.proto file (gzip or protobuf expected)"};
    }
    if (err_.truncated) {
      return Error{std::string(source_) + ": truncated protobuf at byte " +
                   std::to_string(err_.pos)};
    }
    return Error{std::string(source_) + ": malformed protobuf at byte " + std::to_string(err_.pos) +
                 ": " + err_.what};
  }

  Error Invalid(const std::string& what) const {
    return Error{std::string(source_) + ": invalid profile: " + what};
  }

  // Text formats (legacy heap profiles, JSON, a mistyped path to a log)
  // usually get a few bytes into the decoder before failing; name them as
  // what they are rather than reporting a byte offset.
  bool LooksLikeText() const {
    size_t n = std::min<size_t>(size_, 256);
    for (size_t i = 0; i < n; i++) {
      uint8_t c = base_[i];
      if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return false;
      if (c == 0x7f) return false;
    }
    return true;
  }

  bool TopLevel() {
    Cursor c(base_, base_, base_ + size_, &err_);
    bool first = true;
    while (!c.done()) {
      uint32_t field, wire;
      if (!c.Tag(&field, &wire) || !TopLevelField(c, field, wire)) {
        first_field_failed_ = first && !err_.truncated;
        return false;
      }
      first = false;
    }
    return true;
  }

  bool TopLevelField(Cursor& c, uint32_t field, uint32_t wire) {
    Profile& p = *p_;
    switch (field) {
      case f::profile::kSampleType: {
        Cursor m(nullptr, nullptr, nullptr, nullptr);
        if (!c.Message(field, wire, &m)) return false;
        RawValueType& vt = raw_sample_types_.emplace_back();
        return ValueTypeMessage(m, &vt);
      }
      case f::profile::kSample: {
        const uint8_t* b;
        const uint8_t* e;
        if (wire != f::kLengthDelimited) return c.BadWireType(field, wire);
        if (!c.Bytes(&b, &e)) return false;
        sample_spans_.push_back(
            {static_cast<uint64_t>(b - base_), static_cast<uint64_t>(e - base_)});
        return true;
      }
      case f::profile::kMapping: {
        Cursor m(nullptr, nullptr, nullptr, nullptr);
        return c.Message(field, wire, &m) && MappingMessage(m);
      }
      case f::profile::kLocation: {
        Cursor m(nullptr, nullptr, nullptr, nullptr);
        return c.Message(field, wire, &m) && LocationMessage(m);
      }
      case f::profile::kFunction: {
        Cursor m(nullptr, nullptr, nullptr, nullptr);
        return c.Message(field, wire, &m) && FunctionMessage(m);
      }
      case f::profile::kStringTable: {
        if (wire != f::kLengthDelimited) return c.BadWireType(field, wire);
        const uint8_t* b;
        const uint8_t* e;
        if (!c.Bytes(&b, &e)) return false;
        strings_.emplace_back(reinterpret_cast<const char*>(b), static_cast<size_t>(e - b));
        return true;
      }
      case f::profile::kDropFrames:
        return c.Int64Field(field, wire, &drop_frames_);
      case f::profile::kKeepFrames:
        return c.Int64Field(field, wire, &keep_frames_);
      case f::profile::kTimeNanos:
        return c.Int64Field(field, wire, &p.time_nanos);
      case f::profile::kDurationNanos:
        return c.Int64Field(field, wire, &p.duration_nanos);
      case f::profile::kPeriodType: {
        Cursor m(nullptr, nullptr, nullptr, nullptr);
        return c.Message(field, wire, &m) && ValueTypeMessage(m, &period_type_);
      }
      case f::profile::kPeriod:
        return c.Int64Field(field, wire, &p.period);
      case f::profile::kComment:
        return c.RepeatedVarint(
            field, wire, [this](uint64_t v) { comments_.push_back(static_cast<int64_t>(v)); });
      case f::profile::kDefaultSampleType:
        return c.Int64Field(field, wire, &default_sample_type_);
      default:
        return c.Skip(field, wire);
    }
  }

  struct RawValueType {
    int64_t type = 0;
    int64_t unit = 0;
  };

  bool ValueTypeMessage(Cursor& m, RawValueType* vt) {
    while (!m.done()) {
      uint32_t field, wire;
      if (!m.Tag(&field, &wire)) return false;
      bool ok;
      switch (field) {
        case f::value_type::kType:
          ok = m.Int64Field(field, wire, &vt->type);
          break;
        case f::value_type::kUnit:
          ok = m.Int64Field(field, wire, &vt->unit);
          break;
        default:
          ok = m.Skip(field, wire);
      }
      if (!ok) return false;
    }
    return true;
  }

  bool MappingMessage(Cursor& m) {
    Mapping& mp = p_->mappings.emplace_back();
    int64_t filename = 0, build_id = 0;
    while (!m.done()) {
      uint32_t field, wire;
      if (!m.Tag(&field, &wire)) return false;
      bool ok;
      switch (field) {
        case f::mapping::kId:
          ok = m.VarintField(field, wire, &mp.id);
          break;
        case f::mapping::kMemoryStart:
          ok = m.VarintField(field, wire, &mp.memory_start);
          break;
        case f::mapping::kMemoryLimit:
          ok = m.VarintField(field, wire, &mp.memory_limit);
          break;
        case f::mapping::kFileOffset:
          ok = m.VarintField(field, wire, &mp.file_offset);
          break;
        case f::mapping::kFilename:
          ok = m.Int64Field(field, wire, &filename);
          break;
        case f::mapping::kBuildId:
          ok = m.Int64Field(field, wire, &build_id);
          break;
        case f::mapping::kHasFunctions:
          ok = m.BoolField(field, wire, &mp.has_functions);
          break;
        case f::mapping::kHasFilenames:
          ok = m.BoolField(field, wire, &mp.has_filenames);
          break;
        case f::mapping::kHasLineNumbers:
          ok = m.BoolField(field, wire, &mp.has_line_numbers);
          break;
        case f::mapping::kHasInlineFrames:
          ok = m.BoolField(field, wire, &mp.has_inline_frames);
          break;
        default:
          ok = m.Skip(field, wire);
      }
      if (!ok) return false;
    }
    raw_mapping_strings_.push_back({filename, build_id});
    return true;
  }

  bool LocationMessage(Cursor& m) {
    Location& loc = p_->locations.emplace_back();
    uint64_t mapping_id = 0;
    loc.line_begin = static_cast<uint32_t>(p_->lines.size());
    while (!m.done()) {
      uint32_t field, wire;
      if (!m.Tag(&field, &wire)) return false;
      bool ok;
      switch (field) {
        case f::location::kId:
          ok = m.VarintField(field, wire, &loc.id);
          break;
        case f::location::kMappingId:
          ok = m.VarintField(field, wire, &mapping_id);
          break;
        case f::location::kAddress:
          ok = m.VarintField(field, wire, &loc.address);
          break;
        case f::location::kLine: {
          Cursor lm(nullptr, nullptr, nullptr, nullptr);
          ok = m.Message(field, wire, &lm) && LineMessage(lm);
          break;
        }
        case f::location::kIsFolded:
          ok = m.BoolField(field, wire, &loc.is_folded);
          break;
        default:
          ok = m.Skip(field, wire);
      }
      if (!ok) return false;
    }
    if (p_->lines.size() - loc.line_begin > UINT32_MAX) {
      return m.Fail(m.pos(), "location has too many lines");
    }
    loc.line_count = static_cast<uint32_t>(p_->lines.size() - loc.line_begin);
    raw_location_mapping_.push_back(mapping_id);
    return true;
  }

  bool LineMessage(Cursor& m) {
    Line& line = p_->lines.emplace_back();
    uint64_t function_id = 0;
    while (!m.done()) {
      uint32_t field, wire;
      if (!m.Tag(&field, &wire)) return false;
      bool ok;
      switch (field) {
        case f::line::kFunctionId:
          ok = m.VarintField(field, wire, &function_id);
          break;
        case f::line::kLine:
          ok = m.Int64Field(field, wire, &line.line);
          break;
        case f::line::kColumn:
          ok = m.Int64Field(field, wire, &line.column);
          break;
        default:
          ok = m.Skip(field, wire);
      }
      if (!ok) return false;
    }
    raw_line_function_.push_back(function_id);
    return true;
  }

  bool FunctionMessage(Cursor& m) {
    Function& fn = p_->functions.emplace_back();
    int64_t name = 0, system_name = 0, filename = 0;
    while (!m.done()) {
      uint32_t field, wire;
      if (!m.Tag(&field, &wire)) return false;
      bool ok;
      switch (field) {
        case f::function::kId:
          ok = m.VarintField(field, wire, &fn.id);
          break;
        case f::function::kName:
          ok = m.Int64Field(field, wire, &name);
          break;
        case f::function::kSystemName:
          ok = m.Int64Field(field, wire, &system_name);
          break;
        case f::function::kFilename:
          ok = m.Int64Field(field, wire, &filename);
          break;
        case f::function::kStartLine:
          ok = m.Int64Field(field, wire, &fn.start_line);
          break;
        default:
          ok = m.Skip(field, wire);
      }
      if (!ok) return false;
    }
    raw_function_strings_.push_back({name, system_name, filename});
    return true;
  }

  // Checks a string index. On failure sets `*error` to a message naming the
  // field, which `what()` describes (built only then: this runs per record).
  template <typename What>
  bool Str(int64_t raw, StringIndex* out, std::string* error, What&& what) const {
    if (raw < 0 || static_cast<uint64_t>(raw) >= strings_.size()) [[unlikely]] {
      *error = "string index " + std::to_string(raw) + " of " + std::string(what()) +
               " is out of range (the string table has " + std::to_string(strings_.size()) +
               " entries)";
      return false;
    }
    *out = static_cast<StringIndex>(raw);
    return true;
  }

  // Resolves every reference outside the samples and checks the profile's
  // invariants. Returns an error message, or "" if all is well.
  std::string ResolveAndCheck() {
    Profile& p = *p_;
    std::string e;
    if (strings_.empty()) return "it has no string table (string_table[0] must be \"\")";
    if (!strings_[0].empty()) return "string_table[0] must be \"\"";
    if (strings_.size() > UINT32_MAX) return "the string table has more than 2^32 entries";

    p.sample_types.reserve(raw_sample_types_.size());
    for (size_t i = 0; i < raw_sample_types_.size(); i++) {
      ValueType& vt = p.sample_types.emplace_back();
      auto what = [i] { return "sample_type[" + std::to_string(i) + "]"; };
      if (!Str(raw_sample_types_[i].type, &vt.type, &e, [&] { return what() + ".type"; }) ||
          !Str(raw_sample_types_[i].unit, &vt.unit, &e, [&] { return what() + ".unit"; })) {
        return e;
      }
    }
    if (p.sample_types.empty() && !sample_spans_.empty()) {
      return "it has samples but no sample types";
    }
    if (!Str(period_type_.type, &p.period_type.type, &e, [] { return "period_type.type"; }) ||
        !Str(period_type_.unit, &p.period_type.unit, &e, [] { return "period_type.unit"; }) ||
        !Str(drop_frames_, &p.drop_frames, &e, [] { return "drop_frames"; }) ||
        !Str(keep_frames_, &p.keep_frames, &e, [] { return "keep_frames"; }) ||
        !Str(default_sample_type_, &p.default_sample_type, &e,
             [] { return "default_sample_type"; })) {
      return e;
    }
    p.comments.resize(comments_.size());
    for (size_t i = 0; i < comments_.size(); i++) {
      if (!Str(comments_[i], &p.comments[i], &e,
               [i] { return "comment[" + std::to_string(i) + "]"; })) {
        return e;
      }
    }

    uint64_t bad;
    bool duplicate;
    if (!mappings_.Build(p.mappings, &bad, &duplicate)) {
      return duplicate ? "two mappings have id " + std::to_string(bad)
                       : std::string("a mapping has the reserved id 0");
    }
    for (size_t i = 0; i < p.mappings.size(); i++) {
      Mapping& m = p.mappings[i];
      auto what = [&m](const char* field) {
        return "mapping id " + std::to_string(m.id) + " " + field;
      };
      if (!Str(raw_mapping_strings_[i].first, &m.filename, &e, [&] { return what("filename"); }) ||
          !Str(raw_mapping_strings_[i].second, &m.build_id, &e, [&] { return what("build_id"); })) {
        return e;
      }
    }

    IdIndex functions;
    if (!functions.Build(p.functions, &bad, &duplicate)) {
      return duplicate ? "two functions have id " + std::to_string(bad)
                       : std::string("a function has the reserved id 0");
    }
    for (size_t i = 0; i < p.functions.size(); i++) {
      Function& fn = p.functions[i];
      const RawFunctionStrings& raw = raw_function_strings_[i];
      auto what = [&fn](const char* field) {
        return "function id " + std::to_string(fn.id) + " " + field;
      };
      if (!Str(raw.name, &fn.name, &e, [&] { return what("name"); }) ||
          !Str(raw.system_name, &fn.system_name, &e, [&] { return what("system_name"); }) ||
          !Str(raw.filename, &fn.filename, &e, [&] { return what("filename"); })) {
        return e;
      }
    }

    if (!locations_.Build(p.locations, &bad, &duplicate)) {
      return duplicate ? "two locations have id " + std::to_string(bad)
                       : std::string("a location has the reserved id 0");
    }
    for (size_t i = 0; i < p.locations.size(); i++) {
      Location& loc = p.locations[i];
      if (uint64_t mid = raw_location_mapping_[i]; mid != 0) {
        loc.mapping = mappings_.Find(mid);
        if (loc.mapping == kNoIndex) {
          return "location id " + std::to_string(loc.id) + " refers to mapping id " +
                 std::to_string(mid) + ", which is not in the profile";
        }
      }
      for (uint32_t l = loc.line_begin; l < loc.line_begin + loc.line_count; l++) {
        uint64_t fid = raw_line_function_[l];
        uint32_t index = fid == 0 ? kNoIndex : functions.Find(fid);
        if (index == kNoIndex) {
          return "location id " + std::to_string(loc.id) + " has a line with function id " +
                 std::to_string(fid) + ", which is not in the profile";
        }
        p.lines[l].function = index;
      }
    }
    return "";
  }

  // Pass two: decodes every sample recorded in pass one.
  bool Samples() {
    SampleTable& t = p_->samples;
    const size_t n = sample_spans_.size();
    const size_t num_values = p_->sample_types.size();
    t.num_values = num_values;
    if (n == 0) return true;
    // Every varint takes at least one byte, so the bytes of all samples bound
    // both the location and the value counts. Reserving that much costs only
    // address space: pages never written are never touched.
    uint64_t sample_bytes = 0;
    for (const Span& s : sample_spans_) sample_bytes += s.end - s.begin;
    t.location_offsets.reserve(n + 1);
    t.label_offsets.reserve(n + 1);
    // SampleLocations grows the column by each run's byte count before
    // trimming it; the sum of those stays within sample_bytes.
    t.location_index.reserve(sample_bytes);
    t.values.reserve(std::min<uint64_t>(sample_bytes, uint64_t{n} * num_values));
    t.location_offsets.push_back(0);
    t.label_offsets.push_back(0);

    for (size_t i = 0; i < n; i++) {
      Cursor m(base_, base_ + sample_spans_[i].begin, base_ + sample_spans_[i].end, &err_);
      size_t values_before = t.values.size();
      while (!m.done()) {
        uint32_t field, wire;
        if (!m.Tag(&field, &wire)) return false;
        bool ok;
        switch (field) {
          case f::sample::kLocationId:
            ok = SampleLocations(m, field, wire, i);
            break;
          case f::sample::kValue:
            ok = m.RepeatedVarint(field, wire, [&t](uint64_t v) HS_ALWAYS_INLINE_LAMBDA {
              t.values.push_back(static_cast<int64_t>(v));
            });
            break;
          case f::sample::kLabel: {
            Cursor lm(nullptr, nullptr, nullptr, nullptr);
            ok = m.Message(field, wire, &lm) && LabelMessage(lm, i);
            break;
          }
          default:
            ok = m.Skip(field, wire);
        }
        if (!ok) return false;
      }
      if (t.values.size() - values_before != num_values) {
        return CheckFailed("sample #" + std::to_string(i) + " has " +
                           std::to_string(t.values.size() - values_before) +
                           " values but the profile has " + std::to_string(num_values) +
                           " sample types");
      }
      t.location_offsets.push_back(t.location_index.size());
      t.label_offsets.push_back(t.labels.size());
    }
    return true;
  }

  // The hottest loop of the reader: most of a big profile is location ids.
  // A packed run is decoded with local pointers straight into the column,
  // which is grown by the run's byte count first (an upper bound on the ids
  // in it) without zeroing (LargeAllocator), then trimmed.
  HS_ALWAYS_INLINE bool SampleLocations(Cursor& m, uint32_t field, uint32_t wire, size_t sample) {
    LargeVector<uint32_t>& out = p_->samples.location_index;
    uint32_t missing = 0;  // Non-zero once an id was not found.
    uint64_t missing_id = 0;
    if (wire == f::kLengthDelimited) {
      const uint8_t* p;
      const uint8_t* e;
      if (!m.Bytes(&p, &e)) return false;
      const size_t before = out.size();
      out.resize(before + static_cast<size_t>(e - p));
      uint32_t* dst = out.data() + before;
      while (p < e) {
        uint64_t id;
        if (p[0] < 0x80) {
          id = p[0];
          p += 1;
        } else if (e - p >= 2 && p[1] < 0x80) {
          id = (p[0] & 0x7fu) | uint64_t{p[1]} << 7;
          p += 2;
        } else {
          Cursor rest(base_, p, e, &err_);
          if (!rest.Varint(&id)) return false;
          p = base_ + rest.pos();
        }
        uint32_t index = locations_.Find(id);
        if (index == kNoIndex && missing++ == 0) [[unlikely]]
          missing_id = id;
        *dst++ = index;
      }
      out.resize(static_cast<size_t>(dst - out.data()));
    } else {
      uint64_t id;
      if (wire != f::kVarint) return m.BadWireType(field, wire);
      if (!m.Varint(&id)) return false;
      uint32_t index = locations_.Find(id);
      if (index == kNoIndex) {
        missing = 1;
        missing_id = id;
      }
      out.push_back(index);
    }
    if (missing != 0) [[unlikely]] {
      return CheckFailed("sample #" + std::to_string(sample) + " refers to location id " +
                         std::to_string(missing_id) + ", which is not in the profile");
    }
    return true;
  }

  bool LabelMessage(Cursor& m, size_t sample) {
    int64_t key = 0, str = 0, num_unit = 0;
    Label& label = p_->samples.labels.emplace_back();
    while (!m.done()) {
      uint32_t field, wire;
      if (!m.Tag(&field, &wire)) return false;
      bool ok;
      switch (field) {
        case f::label::kKey:
          ok = m.Int64Field(field, wire, &key);
          break;
        case f::label::kStr:
          ok = m.Int64Field(field, wire, &str);
          break;
        case f::label::kNum:
          ok = m.Int64Field(field, wire, &label.num);
          break;
        case f::label::kNumUnit:
          ok = m.Int64Field(field, wire, &num_unit);
          break;
        default:
          ok = m.Skip(field, wire);
      }
      if (!ok) return false;
    }
    std::string e;
    auto what = [sample] { return "a label of sample #" + std::to_string(sample); };
    if (!Str(key, &label.key, &e, what) || !Str(str, &label.str, &e, what) ||
        !Str(num_unit, &label.num_unit, &e, what)) {
      return CheckFailed(e);
    }
    return true;
  }

  bool CheckFailed(std::string what) {
    err_.pos = kCheckFailure;
    err_.truncated = false;
    err_.what = std::move(what);
    return false;
  }

  struct RawFunctionStrings {
    int64_t name;
    int64_t system_name;
    int64_t filename;
  };

  const uint8_t* base_;
  size_t size_;
  std::string_view source_;
  Profile* p_ = nullptr;
  DecodeError err_;
  bool first_field_failed_ = false;

  std::vector<std::string_view> strings_;
  std::vector<RawValueType> raw_sample_types_;
  RawValueType period_type_;
  int64_t drop_frames_ = 0;
  int64_t keep_frames_ = 0;
  int64_t default_sample_type_ = 0;
  std::vector<int64_t> comments_;
  std::vector<Span> sample_spans_;
  std::vector<std::pair<int64_t, int64_t>> raw_mapping_strings_;
  std::vector<RawFunctionStrings> raw_function_strings_;
  std::vector<uint64_t> raw_location_mapping_;
  std::vector<uint64_t> raw_line_function_;
  IdIndex mappings_;
  IdIndex locations_;

 public:
  std::vector<std::string_view> TakeStrings() { return std::move(strings_); }
};

std::string ErrnoText(int err) { return std::strerror(err); }

Result<ByteBuffer> Inflate(std::string_view gzipped, std::string_view source) {
  Result<ByteBuffer> inflated = Gunzip(gzipped);
  if (!inflated.ok()) return Error{std::string(source) + ": " + inflated.error()};
  if (inflated->empty()) {
    return Error{std::string(source) + ": empty gzip stream (no profile in it)"};
  }
  return inflated;
}

}  // namespace

Result<Profile> ReadProfile(ByteBuffer bytes, std::string_view source) {
  if (bytes.empty()) return Error{std::string(source) + ": empty file (no profile in it)"};
  if (IsGzip(AsStringView(bytes))) return ReadProfile(AsStringView(bytes), source);
  ProfileDecoder decoder(bytes, source);
  Result<Profile> result = decoder.Decode(Profile());
  if (!result.ok()) return result;
  result->SetStrings(decoder.TakeStrings());
  // The string table points into these bytes; moving the vector keeps them
  // where they are.
  result->AdoptStorage(std::move(bytes));
  return result;
}

Result<Profile> ReadProfile(std::string_view bytes, std::string_view source) {
  if (bytes.empty()) return Error{std::string(source) + ": empty file (no profile in it)"};
  if (!IsGzip(bytes)) return ReadProfile(ByteBuffer(bytes.begin(), bytes.end()), source);
  Result<ByteBuffer> inflated = Inflate(bytes, source);
  if (!inflated.ok()) return Error{inflated.error()};
  return ReadProfile(std::move(inflated).value(), source);
}

Result<ByteBuffer> ReadFileBytes(const std::string& path) {
  const bool is_stdin = path == "-";
  int fd = is_stdin ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open " + path + ": " + ErrnoText(errno)};
  std::string name = is_stdin ? "standard input" : path;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    if (!is_stdin) close(fd);
    return Error{"cannot read " + name + ": " + ErrnoText(err)};
  }
  if (S_ISDIR(st.st_mode)) {
    if (!is_stdin) close(fd);
    return Error{name + " is a directory, not a profile file"};
  }
  ByteBuffer data;
  // Regular files: one read of the known size. Pipes and the like: grow.
  size_t capacity = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : size_t{1} << 20;
  data.resize(capacity);
  size_t len = 0;
  for (;;) {
    if (len == data.size()) {
      if (data.size() > kMaxInflatedSize) {
        if (!is_stdin) close(fd);
        return Error{name + " is larger than 4 GiB; is it really a profile?"};
      }
      data.resize(data.size() * 2);
    }
    ssize_t n = read(fd, data.data() + len, data.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (!is_stdin) close(fd);
      return Error{"cannot read " + name + ": " + ErrnoText(err)};
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  if (!is_stdin) close(fd);
  data.resize(len);
  return data;
}

Result<Profile> ReadProfileFile(const std::string& path) {
  Result<ByteBuffer> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return Error{bytes.error()};
  const std::string source = path == "-" ? "standard input" : path;
  if (IsGzip(AsStringView(*bytes))) {
    Result<ByteBuffer> inflated = Inflate(AsStringView(*bytes), source);
    if (!inflated.ok()) return Error{inflated.error()};
    // The compressed bytes are not needed any more.
    bytes = ByteBuffer();
    return ReadProfile(std::move(inflated).value(), source);
  }
  return ReadProfile(std::move(bytes).value(), source);
}

}  // namespace heapscope::format
