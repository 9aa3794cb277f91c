// Sample filters shared by the reports (top, tree, diff, folded, flame):
// pprof's -focus and -ignore at function granularity. A sample is kept when
// some frame of its stack names a function that matches `focus` (if given)
// and no frame matches `ignore` (if given). Names are the ones reports show
// (node_table.h: DisplayName, or "module+0xoffset" for unsymbolized frames);
// a pattern matches anywhere in the name, as in pprof, in ECMAScript syntax.
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <cstddef>
#include <string>

#include "format/profile.h"

namespace heapscope::analyze {

struct SampleFilter {
  std::string focus;   // "" keeps every sample.
  std::string ignore;  // "" drops none.

  bool active() const { return !focus.empty() || !ignore.empty(); }
};

struct FilterStats {
  size_t kept = 0;
  size_t dropped = 0;
};

// Removes, in place, the samples `filter` does not keep, so every report
// computed afterwards (totals included) sees only the rest, as pprof does.
// Fails, leaving the profile unchanged, when a pattern is not a valid
// regular expression.
format::Result<FilterStats> ApplySampleFilter(format::Profile* profile, const SampleFilter& filter);

}  // namespace heapscope::analyze
