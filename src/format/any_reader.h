// One entry point for every profile input the commands take, detected by
// content, not by name:
//   - profile.proto, gzipped or not (ReadProfile);
//   - gperftools heap profiles and jemalloc heap_v2 dumps, gzipped or not
//     (legacy_heap.h);
//   - http(s)://HOST:PORT[/PATH] URLs of a live endpoint (heapscope's, or
//     Go's net/http/pprof): fetched with libcurl (at most 3 redirects, 1 GiB,
//     10 s to connect); a URL without a path means /debug/pprof/heap, as for
//     `go tool pprof`. HEAPSCOPE_TOKEN, when set, is sent as
//     "Authorization: Bearer TOKEN". HEAPSCOPE_CA_BUNDLE (or curl's own
//     CURL_CA_BUNDLE) names a PEM file of certificates to trust for https.
#pragma once

#include <string>
#include <string_view>

#include "format/profile.h"

namespace heapscope::format {

// Reads `path` ("-" for standard input, or an http(s):// URL) as any supported
// format. Errors are one line naming the input.
Result<Profile> ReadAnyProfile(const std::string& path);

// Decodes bytes of any supported format (gzip is undone first).
Result<Profile> ParseAnyProfile(ByteBuffer bytes, std::string_view source);

bool IsHttpUrl(std::string_view path);

// The body of a 200 response to GET `url`; `timeout_sec` bounds the whole
// exchange (a ?seconds=N request is given N more).
Result<ByteBuffer> FetchHttp(const std::string& url, int timeout_sec = 60);

}  // namespace heapscope::format
