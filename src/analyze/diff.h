// diff: what grew and what shrank between two profiles of one sample type,
// per function (flat and cum change) and per stack. Both sides are
// collapsed stacks (folded.h), matched by function names, never by address
// or location id, so snapshots of one process and runs of one binary
// compare. Like pprof's -diff_base, the change is NEW minus BASE.
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analyze/folded.h"
#include "format/profile.h"

namespace heapscope::analyze {

// The sample type both profiles are compared in: `name` (a type name or an
// index into NEW's types) or, when empty, NEW's default. Fails, naming
// what each side has, unless BASE has a type of that name and unit.
format::Result<std::string> SelectDiffSampleType(const format::Profile& base,
                                                 const format::Profile& next,
                                                 std::string_view name);

struct DiffFunction {
  std::string function;
  int64_t base_flat = 0;
  int64_t new_flat = 0;
  int64_t base_cum = 0;
  int64_t new_cum = 0;
  int64_t flat_delta() const { return new_flat - base_flat; }
  int64_t cum_delta() const { return new_cum - base_cum; }
};

struct DiffStack {
  std::vector<std::string> frames;  // Root first.
  int64_t base = 0;
  int64_t next = 0;
  int64_t delta() const { return next - base; }
};

struct DiffReport {
  std::string sample_type;
  std::string unit;
  int64_t base_total = 0;
  int64_t new_total = 0;
  size_t function_count = 0;  // Functions whose flat or cum changed.
  size_t stack_count = 0;     // Stacks whose value changed.
  // Growth first, largest first, then shrinks, largest first: functions by
  // flat change, then cum change; stacks by their change; ties by name.
  std::vector<DiffFunction> functions;
  std::vector<DiffStack> stacks;
  std::vector<std::string> warnings;
};

// max_rows limits each list; 0 shows everything that changed.
DiffReport ComputeDiff(const CollapsedStacks& base, const CollapsedStacks& next, size_t max_rows);

// Totals, then a table of functions (flat change, cum change, flat in base
// and new, name) and one of stacks (change, base, new, "root;...;leaf"),
// signed values in one unit.
std::string FormatDiffText(const DiffReport& report);

// {"sample_type", "unit", "base_total", "new_total", "function_count",
//  "stack_count",
//  "functions": [{"function", "flat_delta", "cum_delta", "base_flat",
//                 "new_flat", "base_cum", "new_cum"}],
//  "stacks": [{"frames": [root, ..., leaf], "delta", "base", "new"}]}
std::string FormatDiffJson(const DiffReport& report);

}  // namespace heapscope::analyze
