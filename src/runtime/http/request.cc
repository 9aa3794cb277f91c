#include "runtime/http/request.h"

#include <string.h>

namespace heapscope::runtime::http {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 tchar.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// field-value characters: visible ASCII, space, tab, obs-text.
bool IsValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

ParseResult Error(int status, const char* reason) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.http_status = status;
  r.reason = reason;
  return r;
}

ParseResult Incomplete() {
  ParseResult r;
  r.status = ParseStatus::kIncomplete;
  return r;
}

ParseResult ParseRequestLine(const char* p, size_t n, Request* req) {
  const char* end = p + n;
  const char* sp1 = static_cast<const char*>(memchr(p, ' ', n));
  if (sp1 == nullptr || sp1 == p) return Error(400, "malformed request line");
  for (const char* q = p; q < sp1; q++) {
    if (!IsTokenChar(static_cast<unsigned char>(*q))) return Error(400, "malformed method");
  }
  req->method = {p, static_cast<size_t>(sp1 - p)};
  const char* t = sp1 + 1;
  const char* sp2 = static_cast<const char*>(memchr(t, ' ', static_cast<size_t>(end - t)));
  if (sp2 == nullptr || sp2 == t) return Error(400, "malformed request line");
  for (const char* q = t; q < sp2; q++) {
    unsigned char c = static_cast<unsigned char>(*q);
    if (c <= 0x20 || c >= 0x7f) return Error(400, "malformed request target");
  }
  if (*t != '/') return Error(400, "request target must be a path");
  req->target = {t, static_cast<size_t>(sp2 - t)};
  const char* qm = static_cast<const char*>(memchr(t, '?', req->target.n));
  if (qm != nullptr) {
    req->path = {t, static_cast<size_t>(qm - t)};
    req->query = {qm + 1, static_cast<size_t>(sp2 - qm - 1)};
  } else {
    req->path = req->target;
    req->query = {sp2, 0};
  }
  const char* v = sp2 + 1;
  size_t vn = static_cast<size_t>(end - v);
  if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    return Error(400, "malformed HTTP version");
  }
  if (v[5] != '1') return Error(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  req->minor_version = v[7] - '0';
  ParseResult r;
  r.status = ParseStatus::kComplete;
  return r;
}

ParseResult ParseHeaderLine(const char* p, size_t n, Request* req) {
  if (*p == ' ' || *p == '\t') return Error(400, "obsolete header line folding");
  const char* colon = static_cast<const char*>(memchr(p, ':', n));
  if (colon == nullptr || colon == p) return Error(400, "malformed header line");
  for (const char* q = p; q < colon; q++) {
    if (!IsTokenChar(static_cast<unsigned char>(*q))) return Error(400, "malformed header name");
  }
  const char* v = colon + 1;
  const char* end = p + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  for (const char* q = v; q < end; q++) {
    if (!IsValueChar(static_cast<unsigned char>(*q))) return Error(400, "malformed header value");
  }
  if (req->num_headers >= kMaxHeaders) return Error(431, "too many header fields");
  Header& h = req->headers[req->num_headers++];
  h.name = {p, static_cast<size_t>(colon - p)};
  h.value = {v, static_cast<size_t>(end - v)};
  ParseResult r;
  r.status = ParseStatus::kComplete;
  return r;
}

// Applies the headers that shape the message: Content-Length and
// Transfer-Encoding (refused: a body must have a length, which also rules
// out request smuggling through conflicting framings).
ParseResult CheckFraming(Request* req) {
  bool have_length = false;
  for (size_t i = 0; i < req->num_headers; i++) {
    const Header& h = req->headers[i];
    if (h.name.EqualsIgnoreCase("transfer-encoding")) {
      return Error(411, "Transfer-Encoding is not supported; send Content-Length");
    }
    if (!h.name.EqualsIgnoreCase("content-length")) continue;
    if (h.value.n == 0 || h.value.n > 19)
      return Error(h.value.n > 19 ? 413 : 400, "bad Content-Length");
    uint64_t len = 0;
    for (size_t j = 0; j < h.value.n; j++) {
      char c = h.value.p[j];
      if (c < '0' || c > '9') return Error(400, "bad Content-Length");
      len = len * 10 + static_cast<uint64_t>(c - '0');
    }
    if (have_length && len != req->content_length) return Error(400, "conflicting Content-Length");
    if (len > kMaxBodyBytes) return Error(413, "request body too large");
    have_length = true;
    req->content_length = static_cast<size_t>(len);
  }
  if (req->minor_version >= 1 && req->Find("host") == nullptr) {
    return Error(400, "missing required Host header");
  }
  ParseResult r;
  r.status = ParseStatus::kComplete;
  return r;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Percent-decodes [p, p+n) into out; false on a bad escape or no room.
bool Decode(const char* p, size_t n, char* out, size_t cap, size_t* out_len) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= n) return false;
      int hi = HexValue(p[i + 1]);
      int lo = HexValue(p[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (k + 1 >= cap) return false;
    out[k++] = c;
  }
  if (cap == 0) return false;
  out[k] = '\0';
  *out_len = k;
  return true;
}

}  // namespace

bool Slice::Equals(const char* s) const {
  size_t len = strlen(s);
  return len == n && memcmp(p, s, n) == 0;
}

bool Slice::EqualsIgnoreCase(const char* s) const {
  size_t len = strlen(s);
  if (len != n) return false;
  for (size_t i = 0; i < n; i++) {
    if (Lower(p[i]) != Lower(s[i])) return false;
  }
  return true;
}

bool Slice::StartsWithIgnoreCase(const char* s) const {
  size_t len = strlen(s);
  if (len > n) return false;
  for (size_t i = 0; i < len; i++) {
    if (Lower(p[i]) != Lower(s[i])) return false;
  }
  return true;
}

const Slice* Request::Find(const char* name) const {
  for (size_t i = 0; i < num_headers; i++) {
    if (headers[i].name.EqualsIgnoreCase(name)) return &headers[i].value;
  }
  return nullptr;
}

ParseResult ParseRequest(const char* data, size_t len, Request* req) {
  *req = Request();
  size_t pos = 0;
  // A server should ignore empty lines before the request line (RFC 9112
  // 2.2); allow a few.
  for (int i = 0; i < 4 && pos < len; i++) {
    if (data[pos] == '\n') {
      pos++;
    } else if (data[pos] == '\r' && pos + 1 < len && data[pos + 1] == '\n') {
      pos += 2;
    } else {
      break;
    }
  }
  bool have_request_line = false;
  size_t limit = len < kMaxHeaderBytes ? len : kMaxHeaderBytes;
  for (;;) {
    const char* nl = static_cast<const char*>(memchr(data + pos, '\n', limit - pos));
    if (nl == nullptr) {
      if (len >= kMaxHeaderBytes) {
        return Error(have_request_line ? 431 : 414, have_request_line
                                                        ? "request header fields too large"
                                                        : "request line too long");
      }
      return Incomplete();
    }
    size_t line_end = static_cast<size_t>(nl - data);
    size_t n = line_end - pos;
    if (n > 0 && data[pos + n - 1] == '\r') n--;
    const char* line = data + pos;
    for (size_t i = 0; i < n; i++) {
      // A bare CR or NUL inside a line is never valid.
      if (line[i] == '\r' || line[i] == '\0') return Error(400, "control character in request");
    }
    pos = line_end + 1;
    if (!have_request_line) {
      ParseResult r = ParseRequestLine(line, n, req);
      if (r.status == ParseStatus::kError) return r;
      have_request_line = true;
      continue;
    }
    if (n == 0) break;  // end of the header section
    ParseResult r = ParseHeaderLine(line, n, req);
    if (r.status == ParseStatus::kError) return r;
  }
  req->header_bytes = pos;
  ParseResult r = CheckFraming(req);
  if (r.status == ParseStatus::kError) return r;
  if (len - pos < req->content_length) return Incomplete();
  req->body = {data + pos, req->content_length};
  return r;
}

QueryStatus QueryValue(Slice query, const char* key, char* out, size_t cap) {
  size_t key_len = strlen(key);
  const char* p = query.p;
  const char* end = query.p + query.n;
  while (p < end) {
    const char* amp = static_cast<const char*>(memchr(p, '&', static_cast<size_t>(end - p)));
    const char* pair_end = amp != nullptr ? amp : end;
    const char* eq = static_cast<const char*>(memchr(p, '=', static_cast<size_t>(pair_end - p)));
    const char* name_end = eq != nullptr ? eq : pair_end;
    char name[64];
    size_t name_len;
    if (Decode(p, static_cast<size_t>(name_end - p), name, sizeof name, &name_len) &&
        name_len == key_len && memcmp(name, key, key_len) == 0) {
      const char* v = eq != nullptr ? eq + 1 : pair_end;
      size_t out_len;
      if (!Decode(v, static_cast<size_t>(pair_end - v), out, cap, &out_len)) {
        return QueryStatus::kInvalid;
      }
      return QueryStatus::kFound;
    }
    p = pair_end + 1;
  }
  return QueryStatus::kAbsent;
}

bool ConstantTimeEquals(const char* a, size_t an, const char* b, size_t bn) {
  // Every byte of b is read whatever a holds; the lengths are not secret.
  unsigned char diff = an == bn ? 0 : 1;
  for (size_t i = 0; i < bn; i++) {
    unsigned char x = i < an ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

}  // namespace heapscope::runtime::http
