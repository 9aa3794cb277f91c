// flame: self-contained flame graphs of collapsed stacks (folded.h), as an
// SVG image (static: rectangles with <title> tooltips) or an HTML page
// (search with the matched share, click to zoom) that needs nothing but a
// browser: all script and style are inline and nothing is fetched. Frame
// widths are by value; the root frame "all" is the whole profile.
// Given a base, the graph is differential: widths by NEW, each frame red
// where its value (cum) grew since BASE and blue where it shrank, the
// stronger the larger the change relative to the largest.
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <string>

#include "analyze/folded.h"

namespace heapscope::analyze {

// `base` may be null (an ordinary flame graph). `title` heads the graph;
// the sample type and total follow it.
std::string RenderFlameSvg(const CollapsedStacks& stacks, const CollapsedStacks* base,
                           const std::string& title);
std::string RenderFlameHtml(const CollapsedStacks& stacks, const CollapsedStacks* base,
                            const std::string& title);

}  // namespace heapscope::analyze
