// Plain sentences about where resident memory went, for `heapscope run`'s
// summary: the parts at the end, and which of them grew between two
// snapshots.
#pragma once

#include <string>
#include <vector>

#include "analyze/runtime_comments.h"

namespace heapscope::analyze {

// "resident memory 245 MiB: live heap 150 MiB (61.2%), ..."
std::string RssPartsLine(const RssParts& r);

// "resident memory grew 180 MiB, of which live heap 150 MiB (83.3%), ...",
// with the parts that shrank after; the parts in order of growth.
std::string RssGrowthLine(const RssParts& first, const RssParts& last);

}  // namespace heapscope::analyze
