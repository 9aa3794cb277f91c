#include "format/any_reader.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "format/gzip.h"
#include "format/legacy_heap.h"
#include "format/profile_reader.h"

namespace heapscope::format {
namespace {

// Responses larger than this are refused (profiles are far smaller).
constexpr size_t kMaxResponse = size_t{1} << 30;

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

struct Url {
  std::string host;
  std::string port = "80";
  std::string target = "/debug/pprof/heap";
};

Result<Url> ParseUrl(const std::string& url) {
  std::string_view rest(url);
  rest.remove_prefix(7);  // "http://"
  Url u;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    u.target = std::string(rest.substr(slash));
  }
  if (authority.empty()) return Error{url + ": no host in the URL"};
  if (authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{url + ": unclosed '[' in the host"};
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority[0] != ':') return Error{url + ": expected ':PORT' after the host"};
      u.port = std::string(authority.substr(1));
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty() || u.port.empty() ||
      u.port.find_first_not_of("0123456789") != std::string::npos) {
    return Error{url + ": expected http://HOST:PORT/PATH"};
  }
  for (char c : u.target) {
    if (static_cast<unsigned char>(c) <= ' ') return Error{url + ": spaces in the URL path"};
  }
  return u;
}

// Extra seconds for a ?seconds=N delta request.
int SecondsParam(const std::string& target) {
  size_t q = target.find("seconds=");
  if (q == std::string::npos || (q > 0 && target[q - 1] != '?' && target[q - 1] != '&')) return 0;
  long n = std::strtol(target.c_str() + q + 8, nullptr, 10);
  return n > 0 && n < 3600 ? static_cast<int>(n) : 0;
}

}  // namespace

bool IsHttpUrl(std::string_view path) { return path.starts_with("http://"); }

Result<ByteBuffer> FetchHttp(const std::string& url, int timeout_sec) {
  if (!IsHttpUrl(url)) {
    return Error{url + ": only http:// URLs are supported (https: use a local proxy)"};
  }
  Result<Url> parsed = ParseUrl(url);
  if (!parsed.ok()) return Error{parsed.error()};
  const Url& u = *parsed;
  const int64_t deadline = NowMs() + (int64_t{timeout_sec} + SecondsParam(u.target)) * 1000;

  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (int rc = getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res); rc != 0) {
    return Error{url + ": cannot resolve " + u.host + ": " + gai_strerror(rc)};
  }
  int fd = -1;
  int last_errno = 0;
  for (struct addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last_errno = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return Error{url + ": cannot connect: " + std::strerror(last_errno) +
                 " (is the program running with HEAPSCOPE_HTTP set?)"};
  }
  std::string request = "GET " + u.target + " HTTP/1.0\r\nHost: " + u.host + ":" + u.port +
                        "\r\nUser-Agent: heapscope\r\nAccept-Encoding: identity\r\n";
  if (const char* token = getenv("HEAPSCOPE_TOKEN"); token != nullptr && token[0] != '\0') {
    request += std::string("Authorization: Bearer ") + token + "\r\n";
  }
  request += "Connection: close\r\n\r\n";

  auto wait = [&](short events) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, static_cast<int>(left)) == 1;
  };
  size_t sent = 0;
  while (sent < request.size()) {
    if (!wait(POLLOUT)) {
      close(fd);
      return Error{url + ": timed out sending the request"};
    }
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      return Error{url + ": cannot send the request: " + std::strerror(err)};
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[65536];
  for (;;) {
    if (!wait(POLLIN)) {
      close(fd);
      return Error{url + ": timed out waiting for the response"};
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Error{url + ": cannot read the response: " + std::strerror(err)};
    }
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
    if (response.size() > kMaxResponse) {
      close(fd);
      return Error{url + ": response larger than 1 GiB"};
    }
  }
  close(fd);
  size_t head_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || head_end == std::string::npos) {
    return Error{url + ": not an HTTP response"};
  }
  size_t sp = response.find(' ');
  int status = std::atoi(response.c_str() + sp + 1);
  std::string_view head(response.data(), head_end);
  std::string_view body(response.data() + head_end + 4, response.size() - head_end - 4);
  if (status != 200) {
    std::string_view first = body.substr(0, body.find('\n'));
    if (first.size() > 200) first = first.substr(0, 200);
    return Error{url + ": HTTP " + std::to_string(status) +
                 (first.empty() ? "" : ": " + std::string(first))};
  }
  // Content-Length, when given, must have arrived in full.
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view field = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (field.size() > 15 && strncasecmp(field.data(), "content-length:", 15) == 0) {
      unsigned long long want = std::strtoull(std::string(field.substr(15)).c_str(), nullptr, 10);
      if (want != body.size()) {
        return Error{url + ": response cut short (" + std::to_string(body.size()) + " of " +
                     std::to_string(want) + " bytes)"};
      }
    }
    if (field.size() > 18 && strncasecmp(field.data(), "transfer-encoding:", 18) == 0) {
      return Error{url + ": chunked responses are not supported"};
    }
  }
  ByteBuffer out;
  out.resize(body.size());
  std::memcpy(out.data(), body.data(), body.size());
  return out;
}

Result<Profile> ParseAnyProfile(ByteBuffer bytes, std::string_view source) {
  if (IsGzip(AsStringView(bytes))) {
    Result<ByteBuffer> inflated = Gunzip(AsStringView(bytes));
    if (!inflated.ok()) return Error{std::string(source) + ": " + inflated.error()};
    bytes = std::move(inflated).value();
  }
  std::string_view text = AsStringView(bytes);
  if (LooksLikeGperftoolsHeap(text)) return ReadGperftoolsHeap(text, source);
  if (LooksLikeJemallocHeap(text)) return ReadJemallocHeap(text, source);
  return ReadProfile(std::move(bytes), source);
}

Result<Profile> ReadAnyProfile(const std::string& path) {
  if (IsHttpUrl(path) || path.starts_with("https://")) {
    Result<ByteBuffer> body = FetchHttp(path);
    if (!body.ok()) return Error{body.error()};
    return ParseAnyProfile(std::move(body).value(), path);
  }
  Result<ByteBuffer> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return Error{bytes.error()};
  return ParseAnyProfile(std::move(bytes).value(), path == "-" ? "standard input" : path);
}

}  // namespace heapscope::format
