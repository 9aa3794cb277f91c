// src/analyze: reports over a profile model (format/profile.h): which
// sample type to show, the nodes frames belong to, the `top` table, and
// their text and JSON renderings. Reports are pure functions of a Profile.
// May call: format/ (reader half), base/. May not call: runtime/, cli/.
//
// top: flat and cumulative value per function, like `go tool pprof -top`.
// Flat is what a function holds itself (it is the leaf of the stack); cum
// adds what its callees hold, counting a function once per sample even when
// it recurses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze {

struct TopOptions {
  std::string sample_type;  // Name or index; "" for the default (SelectSampleType).
  size_t max_rows = 20;     // 0 shows every node.
};

struct TopRow {
  std::string name;
  int64_t flat = 0;
  int64_t cum = 0;
  // pprof's marker for functions inlined into their callers: "(inline)"
  // when every call to it was inlined, "(partial-inline)" when some were.
  std::string inline_label;
};

struct TopReport {
  std::string sample_type;   // e.g. "inuse_space".
  std::string unit;          // The sample type's unit, e.g. "bytes".
  int64_t total = 0;         // Sum of |value| over all samples.
  size_t node_count = 0;     // Nodes with a non-zero flat or cum.
  int64_t shown_flat = 0;    // Sum of flat over `rows`.
  std::vector<TopRow> rows;  // By |flat| descending, then name.
  // Profile header for the text output.
  std::string file;                   // Base name of the first mapping's file.
  std::string build_id;               // The first mapping's build id.
  std::vector<std::string> notes;     // Comments that start with "heapscope:".
  std::vector<std::string> warnings;  // Things the reader should know.
  int64_t time_nanos = 0;
  int64_t duration_nanos = 0;
};

format::Result<TopReport> ComputeTop(const format::Profile& profile, const TopOptions& options);

// The report as `go tool pprof -top` prints it: header lines (heapscope
// notes, file, build id, type, time, "Showing nodes accounting for ...",
// "Showing top N nodes out of M"), then columns flat flat% sum% cum cum%
// name, values in one unit chosen for the whole table.
std::string FormatTopText(const TopReport& report);

// The report as JSON; values are raw integers in `unit`, percentages are of
// `total`, rounded to two decimals:
//   {"sample_type": "inuse_space", "unit": "bytes", "total": 123,
//    "node_count": 40, "comments": ["heapscope: ..."],
//    "rows": [{"function": "f", "flat": 100, "flat_pct": 81.3,
//              "cum": 120, "cum_pct": 97.56}, ...]}
std::string FormatTopJson(const TopReport& report);

}  // namespace heapscope::analyze
