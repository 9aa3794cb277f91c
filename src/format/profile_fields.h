// src/format: the profile.proto wire format (google/pprof proto/profile.proto)
// and the legacy text formats. The writer half (proto_encoder, profile
// encoding helpers) never allocates and is used inside the profiled process;
// the reader half allocates freely and is used by the analyzer only.
#pragma once

#include <cstdint>

namespace heapscope::format::pb {

// Field numbers of perftools.profiles messages.
namespace profile {
inline constexpr uint32_t kSampleType = 1;
inline constexpr uint32_t kSample = 2;
inline constexpr uint32_t kMapping = 3;
inline constexpr uint32_t kLocation = 4;
inline constexpr uint32_t kFunction = 5;
inline constexpr uint32_t kStringTable = 6;
inline constexpr uint32_t kDropFrames = 7;
inline constexpr uint32_t kKeepFrames = 8;
inline constexpr uint32_t kTimeNanos = 9;
inline constexpr uint32_t kDurationNanos = 10;
inline constexpr uint32_t kPeriodType = 11;
inline constexpr uint32_t kPeriod = 12;
inline constexpr uint32_t kComment = 13;
inline constexpr uint32_t kDefaultSampleType = 14;
}  // namespace profile

namespace value_type {
inline constexpr uint32_t kType = 1;
inline constexpr uint32_t kUnit = 2;
}  // namespace value_type

namespace sample {
inline constexpr uint32_t kLocationId = 1;
inline constexpr uint32_t kValue = 2;
inline constexpr uint32_t kLabel = 3;
}  // namespace sample

namespace label {
inline constexpr uint32_t kKey = 1;
inline constexpr uint32_t kStr = 2;
inline constexpr uint32_t kNum = 3;
inline constexpr uint32_t kNumUnit = 4;
}  // namespace label

namespace mapping {
inline constexpr uint32_t kId = 1;
inline constexpr uint32_t kMemoryStart = 2;
inline constexpr uint32_t kMemoryLimit = 3;
inline constexpr uint32_t kFileOffset = 4;
inline constexpr uint32_t kFilename = 5;
inline constexpr uint32_t kBuildId = 6;
inline constexpr uint32_t kHasFunctions = 7;
inline constexpr uint32_t kHasFilenames = 8;
inline constexpr uint32_t kHasLineNumbers = 9;
inline constexpr uint32_t kHasInlineFrames = 10;
}  // namespace mapping

namespace location {
inline constexpr uint32_t kId = 1;
inline constexpr uint32_t kMappingId = 2;
inline constexpr uint32_t kAddress = 3;
inline constexpr uint32_t kLine = 4;
inline constexpr uint32_t kIsFolded = 5;
}  // namespace location

namespace line {
inline constexpr uint32_t kFunctionId = 1;
inline constexpr uint32_t kLine = 2;
inline constexpr uint32_t kColumn = 3;
}  // namespace line

namespace function {
inline constexpr uint32_t kId = 1;
inline constexpr uint32_t kName = 2;
inline constexpr uint32_t kSystemName = 3;
inline constexpr uint32_t kFilename = 4;
inline constexpr uint32_t kStartLine = 5;
}  // namespace function

// Wire types.
inline constexpr uint32_t kVarint = 0;
inline constexpr uint32_t kFixed64 = 1;
inline constexpr uint32_t kLengthDelimited = 2;
inline constexpr uint32_t kFixed32 = 5;

}  // namespace heapscope::format::pb
