// tree: callers and callees of the heaviest functions, like
// `go tool pprof -peek` / `-tree`. For each of the top functions by cum:
// the functions that call it, with the value flowing through each call;
// the function itself (flat, cum); the functions it calls, with the value
// flowing into each. An edge counts once per stack, so recursion does not
// inflate it. Built from collapsed stacks (folded.h).
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analyze/folded.h"

namespace heapscope::analyze {

struct TreeEdge {
  std::string function;
  int64_t value = 0;
};

struct TreeNode {
  std::string function;
  int64_t flat = 0;
  int64_t cum = 0;
  std::vector<TreeEdge> callers;  // By |value| descending, then name.
  std::vector<TreeEdge> callees;  // Likewise.
};

struct TreeReport {
  std::string sample_type;
  std::string unit;
  int64_t total = 0;
  size_t node_count = 0;        // Functions with a non-zero flat or cum.
  int64_t shown_flat = 0;       // Sum of flat over `nodes`.
  std::vector<TreeNode> nodes;  // By |cum| descending, then name.
  std::vector<std::string> warnings;
};

// max_nodes == 0 shows every function.
TreeReport ComputeTree(const CollapsedStacks& stacks, size_t max_nodes);

// pprof's -peek layout: a header, then one block per function between
// separator lines, callers above and callees below the function's line,
// edge percentages relative to the function's cum.
std::string FormatTreeText(const TreeReport& report);

// {"sample_type", "unit", "total", "node_count",
//  "nodes": [{"function", "flat", "cum",
//             "callers": [{"function", "value"}], "callees": [...]}]}
std::string FormatTreeJson(const TreeReport& report);

}  // namespace heapscope::analyze
