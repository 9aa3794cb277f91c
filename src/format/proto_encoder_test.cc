#include "format/proto_encoder.h"

#include <gtest/gtest.h>

#include <string>

#include "format/profile_fields.h"
#include "format/profile_reader.h"

namespace heapscope::format {
namespace {

class StringSink : public ByteSink {
 public:
  bool Append(const void* data, size_t n) override {
    s.append(static_cast<const char*>(data), n);
    return true;
  }
  std::string s;
};

class FailingSink : public ByteSink {
 public:
  bool Append(const void*, size_t) override { return false; }
};

TEST(ProtoEncoder, Varints) {
  uint8_t buf[10];
  EXPECT_EQ(PutVarint(buf, 0), 1u);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(PutVarint(buf, 300), 2u);
  EXPECT_EQ(buf[0], 0xac);
  EXPECT_EQ(buf[1], 0x02);
  EXPECT_EQ(PutVarint(buf, UINT64_MAX), 10u);
}

TEST(ProtoEncoder, FillsBufferExactly) {
  uint8_t buf[2];
  MessageBuilder m(buf, sizeof buf);
  m.Varint(1, 5);  // tag + value: two bytes
  EXPECT_FALSE(m.overflow());
  EXPECT_EQ(m.size(), 2u);
  m.Varint(1, 5);
  EXPECT_TRUE(m.overflow());
}

TEST(ProtoEncoder, OverflowDropsMessageNotProfile) {
  uint8_t small[8];
  MessageBuilder m(small, sizeof small);
  m.Bytes(1, "0123456789", 10);
  EXPECT_TRUE(m.overflow());
  StringSink sink;
  StreamEncoder enc(&sink);
  enc.Message(2, m);
  EXPECT_EQ(enc.dropped(), 1u);
  EXPECT_TRUE(sink.s.empty());
  EXPECT_TRUE(enc.ok());
}

TEST(ProtoEncoder, SinkFailureIsRemembered) {
  FailingSink sink;
  StreamEncoder enc(&sink);
  enc.Varint(1, 5);
  EXPECT_FALSE(enc.ok());
}

// A small heap profile written with the encoder reads back with the
// project's reader, field for field.
TEST(ProtoEncoder, RoundTripsThroughReader) {
  StringSink sink;
  StreamEncoder enc(&sink);
  uint8_t buf[512];
  MessageBuilder m(buf, sizeof buf);
  const char* strings[] = {"", "inuse_space", "bytes", "main", "/bin/prog", "abcd"};
  m.Int64(pb::value_type::kType, 1);
  m.Int64(pb::value_type::kUnit, 2);
  enc.Message(pb::profile::kSampleType, m);

  m.Clear();
  uint64_t locs[] = {1, 2};
  int64_t vals[] = {4096};
  m.PackedVarints(pb::sample::kLocationId, locs, 2);
  m.PackedInt64s(pb::sample::kValue, vals, 1);
  enc.Message(pb::profile::kSample, m);

  m.Clear();
  m.Varint(pb::mapping::kId, 1);
  m.Varint(pb::mapping::kMemoryStart, 0x1000);
  m.Varint(pb::mapping::kMemoryLimit, 0x9000);
  m.Int64(pb::mapping::kFilename, 4);
  m.Int64(pb::mapping::kBuildId, 5);
  m.Bool(pb::mapping::kHasFunctions, true);
  enc.Message(pb::profile::kMapping, m);

  for (uint64_t id = 1; id <= 2; id++) {
    m.Clear();
    m.Varint(pb::location::kId, id);
    m.Varint(pb::location::kMappingId, 1);
    m.Varint(pb::location::kAddress, 0x1000 + id);
    uint8_t lb[16];
    MessageBuilder line(lb, sizeof lb);
    line.Varint(pb::line::kFunctionId, 1);
    m.Message(pb::location::kLine, line);
    enc.Message(pb::profile::kLocation, m);
  }
  m.Clear();
  m.Varint(pb::function::kId, 1);
  m.Int64(pb::function::kName, 3);
  enc.Message(pb::profile::kFunction, m);
  enc.Int64(pb::profile::kPeriod, 524288);
  for (const char* s : strings) enc.String(pb::profile::kStringTable, s);
  ASSERT_TRUE(enc.ok());

  auto p = ReadProfile(sink.s, "test");
  ASSERT_TRUE(p.ok()) << p.error();
  ASSERT_EQ(p->samples.size(), 1u);
  EXPECT_EQ(p->samples.Values(0)[0], 4096);
  ASSERT_EQ(p->samples.Locations(0).size(), 2u);
  ASSERT_EQ(p->mappings.size(), 1u);
  EXPECT_EQ(p->String(p->mappings[0].filename), "/bin/prog");
  EXPECT_EQ(p->String(p->mappings[0].build_id), "abcd");
  EXPECT_TRUE(p->mappings[0].has_functions);
  EXPECT_EQ(p->period, 524288);
  const Location& l = p->locations[p->samples.Locations(0)[0]];
  EXPECT_EQ(l.address, 0x1001u);
  ASSERT_EQ(l.line_count, 1u);
  EXPECT_EQ(p->String(p->FunctionOf(p->lines[l.line_begin]).name), "main");
}

}  // namespace
}  // namespace heapscope::format
