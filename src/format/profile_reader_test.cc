#include "format/profile_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "format/profile_fields.h"

namespace heapscope::format {
namespace {

namespace f = pb;

// Hand-assembles protobuf bytes, so tests control the exact encoding
// (packed or not, field order, unknown fields, broken lengths).
class Pb {
 public:
  Pb& Varint(uint32_t field, uint64_t v) {
    Raw(uint64_t{field} << 3 | f::kVarint);
    Raw(v);
    return *this;
  }
  Pb& Bytes(uint32_t field, std::string_view b) {
    Raw(uint64_t{field} << 3 | f::kLengthDelimited);
    Raw(b.size());
    s_.append(b);
    return *this;
  }
  Pb& Msg(uint32_t field, const Pb& m) { return Bytes(field, m.s_); }
  Pb& Packed(uint32_t field, std::initializer_list<uint64_t> vs) {
    Pb body;
    for (uint64_t v : vs) body.Raw(v);
    return Bytes(field, body.s_);
  }
  Pb& Fixed64(uint32_t field, uint64_t v) {
    Raw(uint64_t{field} << 3 | f::kFixed64);
    s_.append(reinterpret_cast<const char*>(&v), 8);
    return *this;
  }
  Pb& Fixed32(uint32_t field, uint32_t v) {
    Raw(uint64_t{field} << 3 | f::kFixed32);
    s_.append(reinterpret_cast<const char*>(&v), 4);
    return *this;
  }
  // A bare varint (tags, lengths, or deliberately broken input).
  Pb& Raw(uint64_t v) {
    while (v >= 0x80) {
      s_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    s_ += static_cast<char>(v);
    return *this;
  }
  Pb& Append(std::string_view b) {
    s_.append(b);
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// String table of the test profile; the constants are indices into it.
const std::vector<std::string> kStrings = {"",
                                           "alloc_space",
                                           "bytes",
                                           "inuse_space",
                                           "main",
                                           "foo",
                                           "/usr/bin/app",
                                           "build",
                                           "thread",
                                           "t1",
                                           "size",
                                           "space",
                                           "heapscope: rate=1",
                                           "inlined"};
enum : int64_t {
  kAllocSpace = 1,
  kBytes = 2,
  kInuseSpace = 3,
  kMain = 4,
  kFoo = 5,
  kApp = 6,
  kBuild = 7,
  kThread = 8,
  kT1 = 9,
  kSize = 10,
  kSpace = 11,
  kComment = 12,
  kInlined = 13,
};

Pb ValueTypeMsg(int64_t type, int64_t unit) {
  return Pb().Varint(f::value_type::kType, type).Varint(f::value_type::kUnit, unit);
}

Pb FunctionMsg(uint64_t id, int64_t name) {
  return Pb()
      .Varint(f::function::kId, id)
      .Varint(f::function::kName, name)
      .Varint(f::function::kSystemName, name)
      .Varint(f::function::kStartLine, 7);
}

Pb LineMsg(uint64_t function_id, int64_t line) {
  return Pb().Varint(f::line::kFunctionId, function_id).Varint(f::line::kLine, line);
}

Pb LocationMsg(uint64_t id, uint64_t mapping_id, uint64_t address,
               std::initializer_list<Pb> lines) {
  Pb loc;
  loc.Varint(f::location::kId, id)
      .Varint(f::location::kMappingId, mapping_id)
      .Varint(f::location::kAddress, address);
  for (const Pb& l : lines) loc.Msg(f::location::kLine, l);
  return loc;
}

Pb MappingMsg(uint64_t id) {
  return Pb()
      .Varint(f::mapping::kId, id)
      .Varint(f::mapping::kMemoryStart, 0x400000)
      .Varint(f::mapping::kMemoryLimit, 0x500000)
      .Varint(f::mapping::kFileOffset, 0x1000)
      .Varint(f::mapping::kFilename, kApp)
      .Varint(f::mapping::kBuildId, kBuild)
      .Varint(f::mapping::kHasFunctions, 1);
}

void AddStrings(Pb& p, const std::vector<std::string>& strings) {
  for (const std::string& s : strings) p.Bytes(f::profile::kStringTable, s);
}

// Everything but samples and strings, so tests can vary those.
Pb Header() {
  Pb p;
  p.Msg(f::profile::kSampleType, ValueTypeMsg(kAllocSpace, kBytes));
  p.Msg(f::profile::kSampleType, ValueTypeMsg(kInuseSpace, kBytes));
  p.Msg(f::profile::kMapping, MappingMsg(1));
  p.Msg(f::profile::kLocation, LocationMsg(1, 1, 0x401234, {LineMsg(2, 10)}));
  p.Msg(f::profile::kLocation, LocationMsg(2, 1, 0x405678, {LineMsg(3, 1), LineMsg(1, 20)}));
  p.Msg(f::profile::kFunction, FunctionMsg(1, kMain));
  p.Msg(f::profile::kFunction, FunctionMsg(2, kFoo));
  p.Msg(f::profile::kFunction, FunctionMsg(3, kInlined));
  p.Varint(f::profile::kTimeNanos, 1700000000000000000);
  p.Varint(f::profile::kDurationNanos, 5000000000);
  p.Msg(f::profile::kPeriodType, ValueTypeMsg(kSpace, kBytes));
  p.Varint(f::profile::kPeriod, 524288);
  p.Varint(f::profile::kComment, kComment);
  p.Varint(f::profile::kDefaultSampleType, kInuseSpace);
  return p;
}

// A small valid profile, samples in packed encoding, strings last (as Go's
// writer orders them), so every strict prefix of it is invalid: it is cut
// inside a field, or lacks the last string, which a label refers to.
std::string ValidProfile() {
  Pb p = Header();
  p.Msg(f::profile::kSample,
        Pb().Packed(f::sample::kLocationId, {1, 2}).Packed(f::sample::kValue, {100, 60}));
  p.Msg(
      f::profile::kSample,
      Pb().Packed(f::sample::kLocationId, {2})
          .Packed(f::sample::kValue, {40, 0})
          .Msg(f::sample::kLabel, Pb().Varint(f::label::kKey, kThread).Varint(f::label::kStr, kT1))
          .Msg(f::sample::kLabel, Pb().Varint(f::label::kKey, kSize)
                                      .Varint(f::label::kNum, 4096)
                                      .Varint(f::label::kNumUnit, kBytes)));
  std::vector<std::string> strings = kStrings;
  strings.push_back("last");
  p.Msg(f::profile::kSample,
        Pb().Packed(f::sample::kLocationId, {1})
            .Packed(f::sample::kValue, {1, 1})
            .Msg(f::sample::kLabel,
                 Pb().Varint(f::label::kKey, kThread)
                     .Varint(f::label::kStr, static_cast<int64_t>(strings.size() - 1))));
  AddStrings(p, strings);
  return p.str();
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string ErrorOf(const std::string& bytes) {
  Result<Profile> r = ReadProfile(bytes, "p.pb");
  return r.ok() ? "OK" : r.error();
}

TEST(ProfileReaderTest, DecodesEveryField) {
  Result<Profile> r = ReadProfile(ValidProfile(), "p.pb");
  ASSERT_TRUE(r.ok()) << r.error();
  const Profile& p = *r;
  ASSERT_EQ(p.strings().size(), kStrings.size() + 1);
  EXPECT_EQ(p.String(kMain), "main");

  ASSERT_EQ(p.sample_types.size(), 2u);
  EXPECT_EQ(p.String(p.sample_types[0].type), "alloc_space");
  EXPECT_EQ(p.String(p.sample_types[1].unit), "bytes");
  EXPECT_EQ(p.String(p.default_sample_type), "inuse_space");
  EXPECT_EQ(p.String(p.period_type.type), "space");
  EXPECT_EQ(p.period, 524288);
  EXPECT_EQ(p.time_nanos, 1700000000000000000);
  EXPECT_EQ(p.duration_nanos, 5000000000);
  ASSERT_EQ(p.comments.size(), 1u);
  EXPECT_EQ(p.String(p.comments[0]), "heapscope: rate=1");

  ASSERT_EQ(p.mappings.size(), 1u);
  const Mapping& m = p.mappings[0];
  EXPECT_EQ(m.id, 1u);
  EXPECT_EQ(m.memory_start, 0x400000u);
  EXPECT_EQ(m.memory_limit, 0x500000u);
  EXPECT_EQ(m.file_offset, 0x1000u);
  EXPECT_EQ(p.String(m.filename), "/usr/bin/app");
  EXPECT_EQ(p.String(m.build_id), "build");
  EXPECT_TRUE(m.has_functions);
  EXPECT_FALSE(m.has_inline_frames);

  ASSERT_EQ(p.functions.size(), 3u);
  EXPECT_EQ(p.functions[1].id, 2u);
  EXPECT_EQ(p.String(p.functions[1].name), "foo");
  EXPECT_EQ(p.String(p.functions[1].system_name), "foo");
  EXPECT_EQ(p.functions[1].start_line, 7);

  ASSERT_EQ(p.locations.size(), 2u);
  const Location& l2 = p.locations[1];
  EXPECT_EQ(l2.id, 2u);
  EXPECT_EQ(l2.address, 0x405678u);
  EXPECT_EQ(l2.mapping, 0u);
  ASSERT_EQ(p.LinesOf(l2).size(), 2u);
  // The inline chain keeps its order: innermost first.
  EXPECT_EQ(p.String(p.FunctionOf(p.LinesOf(l2)[0]).name), "inlined");
  EXPECT_EQ(p.String(p.FunctionOf(p.LinesOf(l2)[1]).name), "main");
  EXPECT_EQ(p.LinesOf(l2)[1].line, 20);

  ASSERT_EQ(p.samples.size(), 3u);
  EXPECT_EQ(p.samples.num_values, 2u);
  ASSERT_EQ(p.samples.Locations(0).size(), 2u);
  EXPECT_EQ(p.locations[p.samples.Locations(0)[0]].id, 1u);
  EXPECT_EQ(p.locations[p.samples.Locations(0)[1]].id, 2u);
  EXPECT_EQ(p.samples.Values(0)[0], 100);
  EXPECT_EQ(p.samples.Values(0)[1], 60);
  EXPECT_EQ(p.samples.Values(1)[0], 40);
  ASSERT_EQ(p.samples.Labels(1).size(), 2u);
  EXPECT_EQ(p.String(p.samples.Labels(1)[0].key), "thread");
  EXPECT_EQ(p.String(p.samples.Labels(1)[0].str), "t1");
  EXPECT_EQ(p.samples.Labels(1)[1].num, 4096);
  EXPECT_EQ(p.String(p.samples.Labels(1)[1].num_unit), "bytes");
  EXPECT_EQ(p.String(p.samples.Labels(2)[0].str), "last");
  EXPECT_TRUE(p.samples.Labels(0).empty());
}

TEST(ProfileReaderTest, PackedAndUnpackedAreTheSame) {
  auto profile = [](bool packed_locations, bool packed_values) {
    Pb p = Header();
    Pb s;
    if (packed_locations) {
      s.Packed(f::sample::kLocationId, {1, 2});
    } else {
      s.Varint(f::sample::kLocationId, 1).Varint(f::sample::kLocationId, 2);
    }
    if (packed_values) {
      s.Packed(f::sample::kValue, {7, 9});
    } else {
      s.Varint(f::sample::kValue, 7).Varint(f::sample::kValue, 9);
    }
    p.Msg(f::profile::kSample, s);
    AddStrings(p, kStrings);
    return p.str();
  };
  for (bool pl : {false, true}) {
    for (bool pv : {false, true}) {
      Result<Profile> r = ReadProfile(profile(pl, pv));
      ASSERT_TRUE(r.ok()) << r.error();
      ASSERT_EQ(r->samples.size(), 1u);
      ASSERT_EQ(r->samples.Locations(0).size(), 2u);
      EXPECT_EQ(r->locations[r->samples.Locations(0)[1]].id, 2u);
      EXPECT_EQ(r->samples.Values(0)[0], 7);
      EXPECT_EQ(r->samples.Values(0)[1], 9);
    }
  }
}

TEST(ProfileReaderTest, MixedEncodingsWithinOneSampleConcatenate) {
  Pb p = Header();
  p.Msg(f::profile::kSample, Pb().Varint(f::sample::kLocationId, 2)
                                 .Packed(f::sample::kLocationId, {1, 2})
                                 .Varint(f::sample::kValue, static_cast<uint64_t>(-5))
                                 .Packed(f::sample::kValue, {6}));
  AddStrings(p, kStrings);
  Result<Profile> r = ReadProfile(p.str());
  ASSERT_TRUE(r.ok()) << r.error();
  std::vector<uint64_t> ids;
  for (uint32_t i : r->samples.Locations(0)) ids.push_back(r->locations[i].id);
  EXPECT_EQ(ids, (std::vector<uint64_t>{2, 1, 2}));
  EXPECT_EQ(r->samples.Values(0)[0], -5);
  EXPECT_EQ(r->samples.Values(0)[1], 6);
}

TEST(ProfileReaderTest, SkipsUnknownFieldsOfEveryWireType) {
  Pb p;
  p.Varint(100, 1).Fixed64(101, 2).Fixed32(102, 3).Bytes(103, "xyz");
  p.Msg(f::profile::kSampleType, ValueTypeMsg(kAllocSpace, kBytes).Varint(9, 1).Bytes(10, "q"));
  p.Msg(f::profile::kFunction, FunctionMsg(1, kMain).Fixed32(20, 1));
  p.Msg(f::profile::kLocation,
        LocationMsg(1, 0, 0x10, {LineMsg(1, 3).Fixed64(9, 5)}).Bytes(30, "unknown"));
  p.Msg(f::profile::kMapping, MappingMsg(1).Fixed64(40, 1));
  p.Msg(f::profile::kSample,
        Pb().Varint(f::sample::kLocationId, 1)
            .Varint(f::sample::kValue, 3)
            .Fixed32(9, 0)
            .Msg(f::sample::kLabel, Pb().Varint(f::label::kKey, kThread).Bytes(7, "zz")));
  AddStrings(p, kStrings);
  Result<Profile> r = ReadProfile(p.str());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->samples.size(), 1u);
  EXPECT_EQ(r->locations[0].mapping, kNoIndex);
  EXPECT_EQ(r->lines[0].line, 3);
}

TEST(ProfileReaderTest, ReadsLineColumnAndFoldedFlag) {
  Pb p;
  p.Msg(f::profile::kFunction, FunctionMsg(1, kMain));
  p.Msg(f::profile::kLocation,
        Pb().Varint(f::location::kId, 1)
            .Msg(f::location::kLine, LineMsg(1, 5).Varint(f::line::kColumn, 12))
            .Varint(f::location::kIsFolded, 1));
  AddStrings(p, kStrings);
  Result<Profile> r = ReadProfile(p.str());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->lines[0].column, 12);
  EXPECT_TRUE(r->locations[0].is_folded);
}

TEST(ProfileReaderTest, UnpackedCommentsAndPackedCommentsBothRead) {
  Pb p;
  p.Varint(f::profile::kComment, kMain).Packed(f::profile::kComment, {kFoo, kComment});
  AddStrings(p, kStrings);
  Result<Profile> r = ReadProfile(p.str());
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->comments.size(), 3u);
  EXPECT_EQ(r->String(r->comments[2]), "heapscope: rate=1");
}

TEST(ProfileReaderTest, SparseIdsResolve) {
  const uint64_t big = uint64_t{1} << 60;
  Pb p;
  p.Msg(f::profile::kSampleType, ValueTypeMsg(kAllocSpace, kBytes));
  p.Msg(f::profile::kMapping, MappingMsg(big + 1));
  p.Msg(f::profile::kFunction, FunctionMsg(big + 2, kMain));
  p.Msg(f::profile::kLocation, LocationMsg(big + 3, big + 1, 1, {LineMsg(big + 2, 1)}));
  p.Msg(f::profile::kLocation, LocationMsg(5, big + 1, 2, {LineMsg(big + 2, 1)}));
  p.Msg(f::profile::kSample,
        Pb().Packed(f::sample::kLocationId, {5, big + 3}).Varint(f::sample::kValue, 1));
  AddStrings(p, kStrings);
  Result<Profile> r = ReadProfile(p.str());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->samples.Locations(0)[0], 1u);
  EXPECT_EQ(r->samples.Locations(0)[1], 0u);
  EXPECT_EQ(r->locations[0].mapping, 0u);
}

TEST(ProfileReaderTest, ReadsGzippedProfiles) {
  Result<Profile> r = ReadProfile(Gzip(ValidProfile()), "p.pb.gz");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->samples.size(), 3u);
}

TEST(ProfileReaderTest, StringsSurviveMovingTheProfile) {
  // Two bytes: a string table of one empty string; small enough for the
  // short-string buffer, which must still not be where the views point.
  std::string tiny =
      Pb().Bytes(f::profile::kStringTable, "").Bytes(f::profile::kStringTable, "ab").str();
  Result<Profile> r = ReadProfile(tiny);
  ASSERT_TRUE(r.ok()) << r.error();
  Profile moved = std::move(r).value();
  Profile again = std::move(moved);
  EXPECT_EQ(again.String(1), "ab");
  StringIndex added = again.AddString("symbolized");
  Profile third = std::move(again);
  EXPECT_EQ(third.String(added), "symbolized");
  EXPECT_EQ(third.String(1), "ab");
}

TEST(ProfileReaderTest, EmptyInput) {
  EXPECT_EQ(ErrorOf(""), "p.pb: empty file (no profile in it)");
  EXPECT_EQ(ErrorOf(Gzip("")), "p.pb: empty gzip stream (no profile in it)");
}

TEST(ProfileReaderTest, TextIsNotAProfile) {
  EXPECT_EQ(ErrorOf("heap profile: 1: 2 [3: 4] @ heapprofile\n"),
            "p.pb: not a profile.proto file (gzip or protobuf expected)");
  EXPECT_EQ(ErrorOf("{\"json\": true}\n"),
            "p.pb: not a profile.proto file (gzip or protobuf expected)");
  EXPECT_EQ(ErrorOf("\x7f"
                    "ELF\x02\x01\x01"),
            "p.pb: not a profile.proto file (gzip or protobuf expected)");
}

TEST(ProfileReaderTest, StringTableRules) {
  EXPECT_EQ(ErrorOf(Pb().Varint(f::profile::kPeriod, 1).str()),
            "p.pb: invalid profile: it has no string table (string_table[0] must be \"\")");
  EXPECT_EQ(ErrorOf(Pb().Bytes(f::profile::kStringTable, "x").str()),
            "p.pb: invalid profile: string_table[0] must be \"\"");
}

TEST(ProfileReaderTest, StringIndicesMustBeInRange) {
  Pb p;
  p.Msg(f::profile::kFunction, FunctionMsg(3, 99));
  AddStrings(p, kStrings);
  EXPECT_EQ(ErrorOf(p.str()),
            "p.pb: invalid profile: string index 99 of function id 3 name is out of range (the "
            "string table has 14 entries)");

  Pb neg;
  neg.Msg(f::profile::kSampleType, ValueTypeMsg(-1, kBytes));
  AddStrings(neg, kStrings);
  EXPECT_NE(ErrorOf(neg.str()).find("string index -1 of sample_type[0].type"), std::string::npos);

  Pb label = Header();
  label.Msg(f::profile::kSample, Pb().Varint(f::sample::kLocationId, 1)
                                     .Packed(f::sample::kValue, {1, 1})
                                     .Msg(f::sample::kLabel, Pb().Varint(f::label::kKey, 50)));
  AddStrings(label, kStrings);
  EXPECT_NE(ErrorOf(label.str()).find("string index 50 of a label of sample #0"),
            std::string::npos);

  for (uint32_t field : {f::profile::kDropFrames, f::profile::kKeepFrames,
                         f::profile::kDefaultSampleType, f::profile::kComment}) {
    Pb q;
    q.Varint(field, 14);
    AddStrings(q, kStrings);
    EXPECT_NE(ErrorOf(q.str()).find("string index 14 of"), std::string::npos) << field;
  }
  Pb mapping;
  mapping.Msg(f::profile::kMapping, MappingMsg(1).Varint(f::mapping::kBuildId, 20));
  AddStrings(mapping, kStrings);
  EXPECT_NE(ErrorOf(mapping.str()).find("of mapping id 1 build_id"), std::string::npos);
}

TEST(ProfileReaderTest, ReferencedIdsMustExist) {
  {
    Pb p = Header();
    p.Msg(f::profile::kSample,
          Pb().Packed(f::sample::kLocationId, {1, 9}).Packed(f::sample::kValue, {1, 1}));
    AddStrings(p, kStrings);
    EXPECT_EQ(ErrorOf(p.str()),
              "p.pb: invalid profile: sample #0 refers to location id 9, which is not in the "
              "profile");
  }
  {
    Pb p = Header();
    p.Msg(f::profile::kSample,
          Pb().Packed(f::sample::kLocationId, {0}).Packed(f::sample::kValue, {1, 1}));
    AddStrings(p, kStrings);
    EXPECT_NE(ErrorOf(p.str()).find("refers to location id 0"), std::string::npos);
  }
  {
    Pb p;
    p.Msg(f::profile::kFunction, FunctionMsg(1, kMain));
    p.Msg(f::profile::kLocation, LocationMsg(4, 2, 0x10, {LineMsg(1, 1)}));
    AddStrings(p, kStrings);
    EXPECT_EQ(ErrorOf(p.str()),
              "p.pb: invalid profile: location id 4 refers to mapping id 2, which is not in the "
              "profile");
  }
  {
    Pb p;
    p.Msg(f::profile::kFunction, FunctionMsg(1, kMain));
    p.Msg(f::profile::kLocation, LocationMsg(4, 0, 0x10, {LineMsg(1, 1), LineMsg(7, 1)}));
    AddStrings(p, kStrings);
    EXPECT_EQ(ErrorOf(p.str()),
              "p.pb: invalid profile: location id 4 has a line with function id 7, which is not "
              "in the profile");
  }
  {
    Pb p;
    p.Msg(f::profile::kLocation, LocationMsg(4, 0, 0x10, {Pb().Varint(f::line::kLine, 3)}));
    AddStrings(p, kStrings);
    EXPECT_NE(ErrorOf(p.str()).find("has a line with function id 0"), std::string::npos);
  }
}

TEST(ProfileReaderTest, IdsMustBeUniqueAndNonZero) {
  auto with = [](uint32_t field, const Pb& a, const Pb& b) {
    Pb p;
    p.Msg(field, a).Msg(field, b);
    AddStrings(p, kStrings);
    return ErrorOf(p.str());
  };
  EXPECT_EQ(with(f::profile::kMapping, MappingMsg(3), MappingMsg(3)),
            "p.pb: invalid profile: two mappings have id 3");
  EXPECT_EQ(with(f::profile::kFunction, FunctionMsg(2, kMain), FunctionMsg(2, kFoo)),
            "p.pb: invalid profile: two functions have id 2");
  EXPECT_EQ(with(f::profile::kLocation, LocationMsg(5, 0, 1, {}), LocationMsg(5, 0, 2, {})),
            "p.pb: invalid profile: two locations have id 5");
  EXPECT_EQ(with(f::profile::kLocation, LocationMsg(1, 0, 1, {}), LocationMsg(0, 0, 2, {})),
            "p.pb: invalid profile: a location has the reserved id 0");
  EXPECT_EQ(with(f::profile::kFunction, FunctionMsg(0, kMain), FunctionMsg(1, kFoo)),
            "p.pb: invalid profile: a function has the reserved id 0");
  EXPECT_EQ(with(f::profile::kMapping, MappingMsg(0), MappingMsg(1)),
            "p.pb: invalid profile: a mapping has the reserved id 0");
  // Sparse ids take the hash map path; duplicates are caught there too.
  const uint64_t big = uint64_t{1} << 50;
  EXPECT_EQ(with(f::profile::kLocation, LocationMsg(big, 0, 1, {}), LocationMsg(big, 0, 2, {})),
            "p.pb: invalid profile: two locations have id " + std::to_string(big));
}

TEST(ProfileReaderTest, ValueCountMustMatchSampleTypes) {
  Pb p = Header();
  p.Msg(f::profile::kSample,
        Pb().Packed(f::sample::kLocationId, {1}).Packed(f::sample::kValue, {1, 2}));
  p.Msg(f::profile::kSample,
        Pb().Packed(f::sample::kLocationId, {1}).Packed(f::sample::kValue, {1, 2, 3}));
  AddStrings(p, kStrings);
  EXPECT_EQ(ErrorOf(p.str()),
            "p.pb: invalid profile: sample #1 has 3 values but the profile has 2 sample types");

  Pb none;
  none.Msg(f::profile::kSample, Pb());
  AddStrings(none, kStrings);
  EXPECT_EQ(ErrorOf(none.str()), "p.pb: invalid profile: it has samples but no sample types");
}

TEST(ProfileReaderTest, WrongWireTypesAreMalformed) {
  Pb p;
  AddStrings(p, kStrings);
  size_t at = p.str().size() + 1;
  p.Varint(f::profile::kSample, 3);
  EXPECT_EQ(ErrorOf(p.str()), "p.pb: malformed protobuf at byte " + std::to_string(at) +
                                  ": field 2 has invalid wire type 0");

  Pb s;
  AddStrings(s, kStrings);
  s.Bytes(f::profile::kTimeNanos, "x");
  EXPECT_NE(ErrorOf(s.str()).find("field 9 has invalid wire type 2"), std::string::npos);

  Pb group;
  AddStrings(group, kStrings);
  group.Raw(uint64_t{50} << 3 | 3);
  EXPECT_NE(ErrorOf(group.str()).find("field 50 has invalid wire type 3"), std::string::npos);
}

TEST(ProfileReaderTest, OverlongVarintIsMalformed) {
  Pb p;
  AddStrings(p, kStrings);
  size_t at = p.str().size() + 1;
  p.Raw(f::profile::kPeriod << 3).Append(std::string(10, '\xff')).Append("\x01");
  EXPECT_EQ(ErrorOf(p.str()), "p.pb: malformed protobuf at byte " + std::to_string(at) +
                                  ": varint longer than 10 bytes");
}

TEST(ProfileReaderTest, LengthPastTheEndIsTruncation) {
  Pb p;
  AddStrings(p, kStrings);
  p.Raw(uint64_t{f::profile::kStringTable} << 3 | 2).Raw(1000).Append("abc");
  EXPECT_EQ(ErrorOf(p.str()), "p.pb: truncated protobuf at byte " + std::to_string(p.str().size()));
  // A nested length that overruns its parent message is also caught.
  Pb q;
  AddStrings(q, kStrings);
  q.Msg(f::profile::kFunction, Pb().Raw(uint64_t{9} << 3 | 2).Raw(50));
  EXPECT_NE(ErrorOf(q.str()).find("truncated protobuf"), std::string::npos);
}

TEST(ProfileReaderTest, EveryTruncationFailsCleanly) {
  const std::string full = ValidProfile();
  ASSERT_TRUE(ReadProfile(full).ok());
  for (size_t n = 0; n < full.size(); n++) {
    Result<Profile> r = ReadProfile(full.substr(0, n), "cut.pb");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().rfind("cut.pb: ", 0), 0u) << r.error();
    EXPECT_EQ(r.error().find('\n'), std::string::npos) << r.error();
  }
  const std::string gz = Gzip(full);
  for (size_t n = 0; n < gz.size(); n++) {
    Result<Profile> r = ReadProfile(gz.substr(0, n), "cut.pb.gz");
    ASSERT_FALSE(r.ok()) << "gzip prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().find('\n'), std::string::npos) << r.error();
  }
}

TEST(ProfileReaderTest, EveryCorruptByteIsHandled) {
  // Flipping bytes may or may not leave a valid profile; it must never
  // crash, and an error must stay one line.
  const std::string full = ValidProfile();
  for (size_t i = 0; i < full.size(); i++) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = full;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      Result<Profile> r = ReadProfile(bad);
      if (!r.ok()) {
        EXPECT_EQ(r.error().find('\n'), std::string::npos) << r.error();
      }
    }
  }
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char tmpl[] = "/tmp/heapscope_reader_test_XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ProfileReaderTest, ReadsFiles) {
  TempFile gz(Gzip(ValidProfile()));
  Result<Profile> r = ReadProfileFile(gz.path());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->samples.size(), 3u);

  TempFile plain(ValidProfile());
  EXPECT_TRUE(ReadProfileFile(plain.path()).ok());

  TempFile truncated(Gzip(ValidProfile()).substr(0, 30));
  Result<Profile> t = ReadProfileFile(truncated.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().rfind(truncated.path() + ": truncated gzip data", 0), 0u) << t.error();
}

TEST(ProfileReaderTest, FileErrorsNameTheFile) {
  Result<Profile> missing = ReadProfileFile("/nonexistent/heap.pb.gz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "cannot open /nonexistent/heap.pb.gz: No such file or directory");

  Result<Profile> dir = ReadProfileFile("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error(), "/tmp is a directory, not a profile file");

  TempFile empty("");
  Result<Profile> e = ReadProfileFile(empty.path());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error(), empty.path() + ": empty file (no profile in it)");
}

}  // namespace
}  // namespace heapscope::format
