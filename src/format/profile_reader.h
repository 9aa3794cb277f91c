// Reads profile.proto (google/pprof proto/profile.proto), gzipped or not,
// into a Profile with a hand-written decoder: no protobuf library, strings
// are not copied, references are resolved to dense indices once.
//
// Accepted: packed and unpacked encodings of every repeated scalar field,
// fields in any order, unknown fields (skipped). Checked, in the spirit of
// pprof's Profile.CheckValid: string_table[0] is "", every string index is
// in range, ids are non-zero and unique, every id a sample, location or line
// refers to exists, and every sample has one value per sample type. Errors
// are one line that starts with the source name, e.g.
//   "heap.pb.gz: truncated protobuf at byte 1234".
#pragma once

#include <string>
#include <string_view>

#include "format/profile.h"

namespace heapscope::format {

// Decodes `bytes`, which hold a profile.proto message, gzipped or not. The
// Profile keeps the (inflated) bytes: its strings point into them. `source`
// names the input in error messages.
Result<Profile> ReadProfile(ByteBuffer bytes, std::string_view source = "profile");

// The same for bytes the caller keeps; they are copied (or inflated).
Result<Profile> ReadProfile(std::string_view bytes, std::string_view source = "profile");

// Reads the whole file at `path` ("-" reads standard input) and decodes it
// with ReadProfile.
Result<Profile> ReadProfileFile(const std::string& path);

// Reads the whole file at `path` ("-" reads standard input) as bytes.
Result<ByteBuffer> ReadFileBytes(const std::string& path);

}  // namespace heapscope::format
