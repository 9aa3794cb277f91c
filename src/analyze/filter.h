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
  // Keeps only in-use objects at least this many seconds old, by the "age"
  // label heapscope's runtime puts on them (the lower bound of the age
  // bucket: 0, 1, 2, 3, 4, 6, 8, 12, ... seconds), as pprof's
  // -tagfocus=age=D: does; samples without the label (a stack's alloc
  // values, objects of unknown age) go too. Negative: off. A profile
  // without ages is an error.
  double min_age_sec = -1;

  bool active() const { return !focus.empty() || !ignore.empty() || min_age_sec >= 0; }
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
