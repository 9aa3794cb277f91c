// Collapsed stacks: a profile reduced, for one sample type, to its distinct
// stacks of function names (root first) with their summed values. This is
// what `heapscope folded` prints ("root;...;leaf value", as flamegraph.pl
// and speedscope read it) and what the tree, diff and flame views are built
// from. Stacks are keyed by the names reports show (node_table.h), never by
// address or location id, so the same code path matches across snapshots of
// one process and across runs of one binary. drop_frames pruning applies.
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze {

// The frame name given to samples whose stack is empty, so that their
// value still shows and the lines add up to the total.
inline constexpr std::string_view kNoStackName = "[no stack]";

struct CollapsedStack {
  std::vector<uint32_t> frames;  // Indices into CollapsedStacks::names, root first.
  int64_t value = 0;             // Never zero.
};

struct CollapsedStacks {
  std::string sample_type;  // e.g. "inuse_space".
  std::string unit;         // e.g. "bytes".
  int64_t total = 0;        // Sum of |value| over all samples, as in `top`.
  std::vector<std::string> names;
  // Distinct stacks with a non-zero value, ordered by their names (root
  // first, then the next frame, ...), as stackcollapse tools sort them.
  std::vector<CollapsedStack> stacks;
  std::vector<std::string> warnings;  // Things the reader should know.
};

format::Result<CollapsedStacks> CollapseStacks(const format::Profile& profile,
                                               std::string_view sample_type);

// One line per stack: names joined by ';', a space, the value.
std::string FormatFolded(const CollapsedStacks& stacks);

// Two profiles' stacks over one name table, matched by names: what diffs
// and differential flame graphs compare.
struct MergedStack {
  std::vector<uint32_t> frames;  // Indices into MergedStacks::names, root first.
  int64_t base = 0;
  int64_t next = 0;
};
struct MergedStacks {
  std::vector<std::string> names;  // The union, in name order.
  // Both sides' base/next index into `names`.
  std::vector<uint32_t> base_ids;
  std::vector<uint32_t> next_ids;
  std::vector<MergedStack> stacks;  // Every stack of either side, in name order.
};
// `base` may be null: then every base value is zero.
MergedStacks MergeStacks(const CollapsedStacks* base, const CollapsedStacks& next);

// Flat (held by the function itself, the leaf) and cum (held by it and its
// callees, once per stack even when it recurses) per name index.
struct FunctionValues {
  std::vector<int64_t> flat;
  std::vector<int64_t> cum;
};
FunctionValues ComputeFunctionValues(const CollapsedStacks& stacks);

}  // namespace heapscope::analyze
