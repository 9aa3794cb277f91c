// Annotated source, like `go tool pprof -list REGEX`: for every function
// whose name matches a regular expression, each line of its source with the
// flat and cum values of a sample type and of its companion (the objects
// count beside a space type, and the other way round).
//
// Per line, as pprof counts: flat is what samples whose leaf frame is that
// line of that function hold; cum is what samples passing through that line
// of that function hold (once per sample, however often it recurses). The
// profile must carry line numbers (Symbolize adds them). The source is read
// from the file DWARF names; when it cannot be read, the lines that hold
// values are still listed, with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze {

struct ListOptions {
  std::string regex;        // ECMAScript syntax, matched anywhere in the name.
  std::string sample_type;  // As for top; "" for the default.
  // Lines of context shown before the first and after the last line with a
  // value, when the function's extent is not known from the source.
  int context = 2;
};

struct ListLine {
  int64_t line = 0;
  std::string text;          // The source line; empty when the source is missing.
  int64_t flat[2] = {0, 0};  // [0]: the chosen type, [1]: its companion.
  int64_t cum[2] = {0, 0};
};

struct ListFunction {
  std::string name;
  std::string file;
  std::string source_error;  // Why the source is not shown, or "".
  int64_t flat[2] = {0, 0};
  int64_t cum[2] = {0, 0};
  std::vector<ListLine> lines;  // In line order.
};

struct ListReport {
  // [0]: the chosen type, [1]: its companion ("" when the profile has none).
  std::string sample_type[2];
  std::string unit[2];
  int64_t total = 0;                    // Sum of |value| of the chosen type.
  std::vector<ListFunction> functions;  // By name, then file.
  std::vector<std::string> warnings;
};

format::Result<ListReport> ComputeList(const format::Profile& profile, const ListOptions& options);

// pprof's layout: "ROUTINE ===... NAME in FILE", a totals line, then
// "flat cum [flat cum] LINE: SOURCE" rows, "." for zero.
std::string FormatListText(const ListReport& report);

// {"sample_type": ..., "unit": ..., "companion_type": ..., "companion_unit": ...,
//  "total": N, "functions": [{"function": ..., "file": ..., "source_error": ...,
//  "flat": N, "cum": N, "companion_flat": N, "companion_cum": N,
//  "lines": [{"line": N, "source": "...", "flat": N, "cum": N,
//             "companion_flat": N, "companion_cum": N}]}]}
std::string FormatListJson(const ListReport& report);

}  // namespace heapscope::analyze
