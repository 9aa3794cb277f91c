// Formatting of sample values the way pprof's internal/measurement does, so
// `heapscope top` reads like `go tool pprof -top`: byte and time units scale
// to one unit for a whole report ("12.50MB"), counts print plainly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace heapscope::analyze {

struct Scaled {
  double value = 0;
  std::string unit;  // "" when the unit is not worth printing (counts).
};

// Converts `value`, measured in `from_unit` (e.g. "bytes", "nanoseconds",
// "count"), to `to_unit`. "auto" and "minimum" pick the largest unit in
// which the value is at least 1 (pprof's autoscale). Unknown units pass the
// value through.
Scaled Scale(int64_t value, std::string_view from_unit, std::string_view to_unit);

// The value in `to_unit` with two decimals and the trailing ".00" removed,
// followed by the unit: "12.50MB", "3kB", "1200". Zero prints as "0".
std::string ScaledLabel(int64_t value, std::string_view from_unit, std::string_view to_unit);

// Shorthand for ScaledLabel(value, unit, "auto").
std::string Label(int64_t value, std::string_view unit);

// A count with its thousands grouped, as the reports print object and
// descriptor counts: 1234567 -> "1,234,567", -2048 -> "-2,048".
std::string Grouped(int64_t value);

// |value| / |total| as pprof prints it: "41.86%", " 0.52%", "  100%".
std::string Percentage(int64_t value, int64_t total);

// The one unit a report prints its values in, chosen like pprof's
// "minimum" output unit: the unit of the smallest non-zero value shown,
// moved up one step when that would make the total hard to read.
std::string SelectOutputUnit(int64_t min_nonzero_value, int64_t total,
                             std::string_view sample_unit);

}  // namespace heapscope::analyze
