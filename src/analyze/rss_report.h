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

// How sizes are written: as pprof and the CLI write them ("12.50MB", powers
// of 1024), or as the web page does ("12.5 MiB").
enum class SizeStyle { kPprof, kIec };

// "resident memory grew 180MB, of which live heap 150MB (83.3%), ...",
// with the parts that shrank after; the parts in order of growth.
std::string RssGrowthLine(const RssParts& first, const RssParts& last,
                          SizeStyle style = SizeStyle::kPprof);

}  // namespace heapscope::analyze
