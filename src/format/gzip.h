// Gzip detection and inflation for profiles (pprof writes .pb.gz). Uses zlib;
// accepts multi-member streams (concatenated .gz files), refuses to grow
// past a size bound, and reports truncated or corrupt input as an Error.
#pragma once

#include <cstdint>
#include <string_view>

#include "format/profile.h"

namespace heapscope::format {

// Inflated profiles larger than this are refused rather than exhausting
// memory (a 4 GiB profile.proto is far beyond anything pprof writes).
inline constexpr uint64_t kMaxInflatedSize = uint64_t{4} << 30;

// True if `data` starts with the gzip magic bytes 1f 8b.
bool IsGzip(std::string_view data);

// Inflates every member of a gzip stream. Errors: corrupt or truncated
// input, bytes after the last member that are not another member (zero
// padding is allowed, as gzip(1) allows it), or output beyond `max_size`
// bytes. (ReadProfile takes plain or gzipped input and calls this.)
Result<ByteBuffer> Gunzip(std::string_view data, uint64_t max_size = kMaxInflatedSize);

}  // namespace heapscope::format
