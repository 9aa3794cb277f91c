#include "format/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace heapscope::format {
namespace {

std::string Str(const ByteBuffer& b) { return std::string(b.begin(), b.end()); }

// gzip-compresses `data` as one member.
std::string GzipMember(const std::string& data, int level = Z_DEFAULT_COMPRESSION) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
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

// Deterministic bytes that compress somewhat, like a profile.
std::string SampleData(size_t n) {
  std::string s;
  s.reserve(n);
  uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s += "frame_" + std::to_string((x >> 16) % 97) + ";";
  }
  s.resize(n);
  return s;
}

TEST(GzipTest, DetectsMagic) {
  EXPECT_TRUE(IsGzip(std::string("\x1f\x8b\x08", 3)));
  EXPECT_FALSE(IsGzip(std::string("\x1f", 1)));
  EXPECT_FALSE(IsGzip(""));
  EXPECT_FALSE(IsGzip("\x0a\x04"));
}

TEST(GzipTest, RoundTrips) {
  std::string data = SampleData(200000);
  Result<ByteBuffer> out = Gunzip(GzipMember(data));
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(Str(*out), data);
}

TEST(GzipTest, InflatesEmptyMember) {
  Result<ByteBuffer> out = Gunzip(GzipMember(""));
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_TRUE(out->empty());
}

TEST(GzipTest, GrowsPastAWrongSizeHint) {
  // The ISIZE trailer seeds the output buffer; a lying trailer must only
  // cost reallocation, and then fail the length check.
  std::string data = SampleData(100000);
  std::string gz = GzipMember(data);
  gz[gz.size() - 4] = 1;
  gz[gz.size() - 3] = 0;
  gz[gz.size() - 2] = 0;
  gz[gz.size() - 1] = 0;
  Result<ByteBuffer> out = Gunzip(gz);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().find("corrupt gzip data"), std::string::npos) << out.error();
}

TEST(GzipTest, ConcatenatesMembers) {
  std::string a = SampleData(5000), b = "second member";
  Result<ByteBuffer> out = Gunzip(GzipMember(a) + GzipMember(b) + GzipMember(""));
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(Str(*out), a + b);
}

TEST(GzipTest, AcceptsTrailingZeroPadding) {
  Result<ByteBuffer> out = Gunzip(GzipMember("abc") + std::string(100, '\0'));
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_EQ(Str(*out), "abc");
}

TEST(GzipTest, RejectsTrailingGarbage) {
  std::string gz = GzipMember("abc");
  size_t member = gz.size();
  Result<ByteBuffer> out = Gunzip(gz + "junk");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error(), "unexpected data after the gzip stream at byte " + std::to_string(member));
}

TEST(GzipTest, EveryTruncationFails) {
  std::string gz = GzipMember(SampleData(3000));
  for (size_t n = 0; n < gz.size(); n++) {
    Result<ByteBuffer> out = Gunzip(gz.substr(0, n));
    ASSERT_FALSE(out.ok()) << "prefix of " << n << " bytes";
    EXPECT_EQ(out.error().find('\n'), std::string::npos);
    if (n >= 2) {
      // Past the magic bytes every failure is a truncation or, where the cut
      // lands inside the 8-byte trailer, a failed check of it.
      EXPECT_TRUE(out.error().find("truncated") != std::string::npos ||
                  out.error().find("corrupt") != std::string::npos)
          << out.error();
    }
  }
}

TEST(GzipTest, TruncatedSecondMemberFails) {
  std::string first = GzipMember("first");
  std::string second = GzipMember("second");
  Result<ByteBuffer> out = Gunzip(first + second.substr(0, second.size() - 3));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().find("starts at byte " + std::to_string(first.size())), std::string::npos)
      << out.error();
}

TEST(GzipTest, EveryCorruptByteFails) {
  // Bytes 4..9 (mtime, flags, OS) are not checked by gzip; everything after
  // the header is covered by the deflate format, the CRC or the length.
  std::string gz = GzipMember(SampleData(2000));
  for (size_t i = 10; i < gz.size(); i++) {
    std::string bad = gz;
    bad[i] = static_cast<char>(bad[i] ^ 0x55);
    Result<ByteBuffer> out = Gunzip(bad);
    EXPECT_FALSE(out.ok()) << "byte " << i;
  }
}

TEST(GzipTest, EnforcesTheSizeBound) {
  std::string zeros(1 << 20, '\0');
  std::string gz = GzipMember(zeros);
  Result<ByteBuffer> out = Gunzip(gz, 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error(), "inflated data exceeds the 1000 bytes limit (is this really a profile?)");

  Result<ByteBuffer> exact = Gunzip(gz, zeros.size());
  ASSERT_TRUE(exact.ok()) << exact.error();
  EXPECT_EQ(exact->size(), zeros.size());

  Result<ByteBuffer> one_less = Gunzip(gz, zeros.size() - 1);
  EXPECT_FALSE(one_less.ok());
}

TEST(GzipTest, DefaultBoundIsFourGiB) { EXPECT_EQ(kMaxInflatedSize, uint64_t{4} << 30); }

TEST(GzipTest, NotGzip) {
  Result<ByteBuffer> out = Gunzip("plain");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().find("not gzip"), std::string::npos);
}

TEST(GzipTest, LargeOutputUsesTheLargeAllocator) {
  // Past LargeAllocator::kMmapBytes the buffer comes from mmap; the bytes
  // must still be exactly the input, grown through several reallocations
  // from a wrong size hint.
  std::string data = SampleData(3 << 20);
  std::string gz = GzipMember(data);
  gz.replace(gz.size() - 4, 4, std::string("\x10\0\0\0", 4));
  Result<ByteBuffer> out = Gunzip(gz);
  ASSERT_FALSE(out.ok());  // The length check catches the changed trailer...
  Result<ByteBuffer> good = Gunzip(GzipMember(data));
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(Str(*good), data);  // ...and the real one inflates intact.
}

}  // namespace
}  // namespace heapscope::format
