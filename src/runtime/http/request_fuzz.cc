// libFuzzer target for the HTTP request parser: any bytes must give
// kIncomplete, kComplete or kError with a 4xx/5xx status, never a crash,
// and a complete request's slices must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "runtime/http/request.h"

using namespace heapscope::runtime::http;

namespace {

void Inside(const Slice& s, const char* data, size_t len) {
  if (s.n == 0) return;
  if (s.p < data || s.p + s.n > data + len) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t len) {
  const char* data = reinterpret_cast<const char*>(bytes);
  Request req;
  ParseResult r = ParseRequest(data, len, &req);
  switch (r.status) {
    case ParseStatus::kIncomplete:
      if (len >= kMaxHeaderBytes + kMaxBodyBytes) abort();  // would wait forever
      break;
    case ParseStatus::kError:
      if (r.http_status < 400 || r.http_status > 599 || r.reason == nullptr) abort();
      break;
    case ParseStatus::kComplete: {
      Inside(req.method, data, len);
      Inside(req.target, data, len);
      Inside(req.path, data, len);
      Inside(req.query, data, len);
      Inside(req.body, data, len);
      if (req.num_headers > kMaxHeaders) abort();
      for (size_t i = 0; i < req.num_headers; i++) {
        Inside(req.headers[i].name, data, len);
        Inside(req.headers[i].value, data, len);
      }
      if (req.header_bytes > kMaxHeaderBytes || req.body.n > kMaxBodyBytes) abort();
      char out[64];
      (void)QueryValue(req.query, "seconds", out, sizeof out);
      (void)QueryValue(req.query, "token", out, sizeof out);
      break;
    }
  }
  return 0;
}
