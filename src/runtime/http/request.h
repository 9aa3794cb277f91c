// src/runtime/http: the live endpoint, a small HTTP/1.1 server on its own
// thread inside the profiled process (net/http/pprof for native code).
// This header: the request parser, a pure function over a byte buffer with
// hard limits, so it can be unit-tested and fuzzed on its own. It never
// allocates; the request it fills points into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heapscope::runtime::http {

inline constexpr size_t kMaxHeaderBytes = 8 * 1024;  // request line + headers
inline constexpr size_t kMaxBodyBytes = 64 * 1024;
inline constexpr size_t kMaxHeaders = 64;

// A view into the request buffer.
struct Slice {
  const char* p = nullptr;
  size_t n = 0;

  bool Equals(const char* s) const;
  bool EqualsIgnoreCase(const char* s) const;
  bool StartsWithIgnoreCase(const char* s) const;
};

struct Header {
  Slice name;
  Slice value;  // surrounding whitespace trimmed
};

struct Request {
  Slice method;
  Slice target;  // as sent: path and query
  Slice path;
  Slice query;            // after '?', raw; empty if none
  int minor_version = 1;  // HTTP/1.x
  Header headers[kMaxHeaders];
  size_t num_headers = 0;
  size_t content_length = 0;
  size_t header_bytes = 0;  // where the body starts
  Slice body;

  // The value of the first header with this name (case-insensitive).
  const Slice* Find(const char* name) const;
};

enum class ParseStatus { kIncomplete, kComplete, kError };

struct ParseResult {
  ParseStatus status;
  int http_status = 0;      // for kError: 400, 411, 413, 431, 505
  const char* reason = "";  // for kError: a short explanation for the reply
};

// Parses a request from the first len bytes received on a connection.
// kIncomplete: more bytes are needed (never once the limits are passed);
// kComplete: *req describes the request and its body; kError: reply with
// http_status and close. Lines are validated as soon as they are complete,
// so garbage is refused without waiting for the rest.
ParseResult ParseRequest(const char* data, size_t len, Request* req);

enum class QueryStatus { kAbsent, kFound, kInvalid };

// Looks up key in a raw query string ("a=1&b=x%20y"), percent-decoding the
// value ('+' is a space) into out (NUL-terminated). kInvalid: a bad escape
// or a value that does not fit.
QueryStatus QueryValue(Slice query, const char* key, char* out, size_t cap);

// Compares two secrets in time that depends only on their lengths.
bool ConstantTimeEquals(const char* a, size_t an, const char* b, size_t bn);

}  // namespace heapscope::runtime::http
