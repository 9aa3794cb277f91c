#include "runtime/http/request.h"

#include <gtest/gtest.h>

#include <string>

namespace heapscope::runtime::http {
namespace {

ParseResult Parse(const std::string& s, Request* req) {
  return ParseRequest(s.data(), s.size(), req);
}

std::string Str(const Slice& s) { return std::string(s.p, s.n); }

TEST(HttpRequest, SimpleGet) {
  Request req;
  std::string text =
      "GET /debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: 127.0.0.1:6060\r\n"
      "User-Agent: Go-http-client/1.1\r\n\r\n";
  ParseResult r = Parse(text, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(Str(req.method), "GET");
  EXPECT_EQ(Str(req.path), "/debug/pprof/heap");
  EXPECT_EQ(Str(req.query), "debug=1");
  EXPECT_EQ(req.minor_version, 1);
  ASSERT_EQ(req.num_headers, 2u);
  ASSERT_NE(req.Find("HOST"), nullptr);
  EXPECT_EQ(Str(*req.Find("host")), "127.0.0.1:6060");
  EXPECT_EQ(req.body.n, 0u);
}

TEST(HttpRequest, IncompleteUntilBlankLine) {
  Request req;
  std::string full = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t i = 0; i < full.size(); i++) {
    EXPECT_EQ(ParseRequest(full.data(), i, &req).status, ParseStatus::kIncomplete) << i;
  }
  EXPECT_EQ(Parse(full, &req).status, ParseStatus::kComplete);
}

TEST(HttpRequest, BareLineFeedsAndHttp10WithoutHost) {
  Request req;
  std::string text = "GET /metrics HTTP/1.0\n\n";
  ParseResult r = Parse(text, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(req.minor_version, 0);
  EXPECT_EQ(Str(req.query), "");
}

TEST(HttpRequest, PostBody) {
  Request req;
  std::string head = "POST /debug/pprof/symbol HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n\r\n";
  std::string body = "0x1234+0x5678";
  EXPECT_EQ(Parse(head + body.substr(0, 5), &req).status, ParseStatus::kIncomplete);
  std::string full = head + body;
  ParseResult r = Parse(full, &req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(Str(req.body), body);
  EXPECT_EQ(req.header_bytes, head.size());
}

TEST(HttpRequest, Errors) {
  struct Case {
    const char* text;
    int status;
  } cases[] = {
      {"\x16\x03\x01\x02\x01\x01\xfc\x03\x03\n", 400},  // TLS hello
      {"GET\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"GET / HTTP/1.1 \r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"GET / FTP/1.0\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},  // no Host
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
  };
  for (const Case& c : cases) {
    Request req;
    ParseResult r = Parse(c.text, &req);
    EXPECT_EQ(r.status, ParseStatus::kError) << c.text;
    EXPECT_EQ(r.http_status, c.status) << c.text;
    EXPECT_NE(std::string(r.reason), "") << c.text;
  }
}

TEST(HttpRequest, GarbageRefusedBeforeTheRestArrives) {
  // The request line is checked as soon as it ends, without waiting for
  // the header section.
  Request req;
  EXPECT_EQ(Parse("NOT HTTP AT ALL\r\n", &req).status, ParseStatus::kError);
}

TEST(HttpRequest, HeaderLimits) {
  Request req;
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (size_t i = 0; i < kMaxHeaders; i++) many += "X-A: b\r\n";
  many += "\r\n";
  ParseResult r = Parse(many, &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);

  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(kMaxHeaderBytes, 'a');
  r = Parse(big, &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);

  std::string long_line = "GET /" + std::string(kMaxHeaderBytes, 'a');
  r = Parse(long_line, &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 414);

  // Just under the limit is fine.
  std::string ok =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(kMaxHeaderBytes - 100, 'a') + "\r\n\r\n";
  EXPECT_EQ(Parse(ok, &req).status, ParseStatus::kComplete);
}

TEST(HttpRequest, QueryValues) {
  Slice q{"debug=1&seconds=30&token=a%2Bb+c&empty=&flag", 0};
  q.n = strlen(q.p);
  char out[32];
  EXPECT_EQ(QueryValue(q, "debug", out, sizeof out), QueryStatus::kFound);
  EXPECT_STREQ(out, "1");
  EXPECT_EQ(QueryValue(q, "seconds", out, sizeof out), QueryStatus::kFound);
  EXPECT_STREQ(out, "30");
  EXPECT_EQ(QueryValue(q, "token", out, sizeof out), QueryStatus::kFound);
  EXPECT_STREQ(out, "a+b c");
  EXPECT_EQ(QueryValue(q, "empty", out, sizeof out), QueryStatus::kFound);
  EXPECT_STREQ(out, "");
  EXPECT_EQ(QueryValue(q, "flag", out, sizeof out), QueryStatus::kFound);
  EXPECT_EQ(QueryValue(q, "missing", out, sizeof out), QueryStatus::kAbsent);
  Slice bad{"seconds=%zz", 11};
  EXPECT_EQ(QueryValue(bad, "seconds", out, sizeof out), QueryStatus::kInvalid);
  Slice trunc{"seconds=%2", 10};
  EXPECT_EQ(QueryValue(trunc, "seconds", out, sizeof out), QueryStatus::kInvalid);
  Slice big{"seconds=123456789", 17};
  EXPECT_EQ(QueryValue(big, "seconds", out, 4), QueryStatus::kInvalid);
}

TEST(HttpRequest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("secret", 6, "secret", 6));
  EXPECT_FALSE(ConstantTimeEquals("secreT", 6, "secret", 6));
  EXPECT_FALSE(ConstantTimeEquals("secret1", 7, "secret", 6));
  EXPECT_FALSE(ConstantTimeEquals("secre", 5, "secret", 6));
  EXPECT_FALSE(ConstantTimeEquals("", 0, "secret", 6));
}

}  // namespace
}  // namespace heapscope::runtime::http
