// The key=value pairs the runtime writes in its "heapscope: ..." profile
// comments (rate, mode, samples, dropped_samples, peak_inuse_space, ...).
#pragma once

#include <map>
#include <string>

#include "format/profile.h"

namespace heapscope::analyze {

// All pairs from every "heapscope: " comment; later comments win.
std::map<std::string, std::string> RuntimeComments(const format::Profile& p);

}  // namespace heapscope::analyze
