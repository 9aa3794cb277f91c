// Serialises a Profile (profile.h) back to profile.proto, gzipped, for
// `heapscope convert`: the analyzer's writer, which allocates freely (the
// runtime's writer in src/runtime/ never does). Uses proto_encoder.h.
//
// The output is what pprof's CheckValid accepts: the string table as the
// profile holds it (entry 0 is ""), the original (non-zero, unique) ids of
// mappings, locations and functions, and samples that name locations by
// id, leaf first.
#pragma once

#include <string>

#include "format/profile.h"

namespace heapscope::format {

// The encoded message, not compressed.
Result<std::string> EncodeProfile(const Profile& profile);

// The encoded message, gzipped.
Result<std::string> EncodeProfileGzip(const Profile& profile);

// Writes EncodeProfileGzip(profile) to `path` through a temporary file and
// a rename, so a reader never sees half a file. "-" writes standard output.
Result<bool> WriteProfileFile(const Profile& profile, const std::string& path);

}  // namespace heapscope::format
