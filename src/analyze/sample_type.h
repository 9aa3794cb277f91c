// Choosing which of a profile's sample types (values) a report shows.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "format/profile.h"

namespace heapscope::analyze {

// The index of the sample type `name` (e.g. "inuse_space", "alloc_objects")
// or, as pprof's -sample_index also allows, a decimal index. An empty name
// picks the default like pprof does: default_sample_type if the profile sets
// one, else the last sample type. Errors name the types that are available.
format::Result<size_t> SelectSampleType(const format::Profile& profile, std::string_view name);

// "alloc_objects, alloc_space, inuse_objects, inuse_space".
std::string SampleTypeList(const format::Profile& profile);

}  // namespace heapscope::analyze
