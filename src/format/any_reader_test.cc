#include "format/any_reader.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "format/legacy_heap.h"
#include "format/profile_writer.h"

namespace heapscope::format {
namespace {

ByteBuffer Bytes(std::string_view s) {
  ByteBuffer b;
  b.resize(s.size());
  std::copy(s.begin(), s.end(), b.begin());
  return b;
}

constexpr std::string_view kGperf =
    "heap profile: 1: 8 [1: 8] @ heapprofile\n 1: 8 [1: 8] @ 0x10\n";
constexpr std::string_view kJemalloc = "heap_v2/1\n@ 0x10\n  t*: 1: 16 [1: 16]\n";

TEST(AnyReader, DetectsEachFormatByContent) {
  Result<Profile> g = ParseAnyProfile(Bytes(kGperf), "g");
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(g->samples.Values(0)[3], 8);
  Result<Profile> j = ParseAnyProfile(Bytes(kJemalloc), "j");
  ASSERT_TRUE(j.ok()) << j.error();
  EXPECT_EQ(j->samples.Values(0)[3], 16);
  // profile.proto, gzipped, from the writer.
  Result<std::string> gz = EncodeProfileGzip(*j);
  ASSERT_TRUE(gz.ok());
  Result<Profile> pb = ParseAnyProfile(Bytes(*gz), "pb");
  ASSERT_TRUE(pb.ok()) << pb.error();
  EXPECT_EQ(pb->samples.Values(0)[3], 16);
  EXPECT_FALSE(ParseAnyProfile(Bytes("hello, world\n"), "x").ok());
}

TEST(AnyReader, ReadsFilesAndReportsMissingOnes) {
  std::string path = ::testing::TempDir() + "/any_reader_test.heap";
  std::ofstream(path) << kJemalloc;
  Result<Profile> p = ReadAnyProfile(path);
  ASSERT_TRUE(p.ok()) << p.error();
  Result<Profile> missing = ReadAnyProfile("/nonexistent/x.heap");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("/nonexistent/x.heap"), std::string::npos);
}

// A one-shot HTTP server on a loopback port, answering `response`.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 1);
    thread_ = std::thread([this, response] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      ssize_t n = recv(c, buf, sizeof buf, 0);
      request_.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
      send(c, response.data(), response.size(), MSG_NOSIGNAL);
      close(c);
    });
  }
  ~OneShotServer() {
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  const std::string& request() const { return request_; }

 private:
  int fd_;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(AnyReader, FetchesHttpUrls) {
  std::string body(kGperf);
  std::string url;
  {
    OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body);
    url = "http://127.0.0.1:" + std::to_string(s.port());
    Result<Profile> p = ReadAnyProfile(url);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(p->samples.Values(0)[3], 8);
    // No path: the heap endpoint, as go tool pprof asks for.
    EXPECT_TRUE(s.request().starts_with("GET /debug/pprof/heap HTTP/1.")) << s.request();
  }
  {
    OneShotServer s("HTTP/1.1 404 Not Found\r\n\r\nno such page\n");
    Result<Profile> p = ReadAnyProfile("http://127.0.0.1:" + std::to_string(s.port()) + "/x");
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("HTTP 404: no such page"), std::string::npos) << p.error();
  }
  {
    OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    Result<Profile> p = ReadAnyProfile("http://127.0.0.1:" + std::to_string(s.port()) + "/");
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().find("cut short"), std::string::npos) << p.error();
  }
  EXPECT_FALSE(ReadAnyProfile("http://:80/").ok());
  EXPECT_FALSE(ReadAnyProfile("http://host:port/").ok());
  EXPECT_FALSE(ReadAnyProfile("http://bad host/").ok());
}

TEST(FuzzCorpus, SeedsParse) {
  // The real dumps in the seed corpus were written by jemalloc and tcmalloc.
  std::ifstream je(std::string(HS_FUZZ_CORPUS) + "/jemalloc/real_dump");
  std::string je_text((std::istreambuf_iterator<char>(je)), std::istreambuf_iterator<char>());
  Result<Profile> j = ReadJemallocHeap(je_text, "real_dump");
  ASSERT_TRUE(j.ok()) << j.error();
  EXPECT_GT(j->samples.size(), 0u);
  EXPECT_GT(j->mappings.size(), 0u);
  std::ifstream hp(std::string(HS_FUZZ_CORPUS) + "/gperftools/real_profile");
  std::string hp_text((std::istreambuf_iterator<char>(hp)), std::istreambuf_iterator<char>());
  Result<Profile> g = ReadGperftoolsHeap(hp_text, "real_profile");
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(g->samples.size(), 2u);
}

}  // namespace
}  // namespace heapscope::format
