// The flame graph the page draws, as the JSON its script reads: the
// merged stacks (analyze/folded.h) as a tree, pruned to what can be seen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "analyze/folded.h"

namespace heapscope::web {

// The tree as JSON members (no braces): "names", then "nodes" in preorder,
// children by name, five numbers per node (name index, value, companion,
// base, child count), then "node_count" and "pruned". Each node carries
// next's value and base's; `diff` says whether base is a diff base (else a
// companion sample type, e.g. objects beside bytes). Only the `budget`
// largest frames (by |value|, or also |base| in a diff), and none below
// `min_value`, are sent: a frame's value never exceeds its parent's, so
// what is kept is a tree.
std::string FlameTreeJsonMembers(const analyze::MergedStacks& merged, bool diff, int64_t min_value,
                                 size_t budget);

}  // namespace heapscope::web
