// The key=value pairs the runtime writes in its "heapscope: ..." profile
// comments (rate, mode, samples, dropped_samples, peak_inuse_space, ...).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze {

// All pairs from every "heapscope: " comment; later comments win.
std::map<std::string, std::string> RuntimeComments(const format::Profile& p);

// A comment's non-negative decimal value; false for anything else.
bool ParseCommentInt(const std::string& s, int64_t* out);

// The string index of the "age" sample label the runtime puts on in-use
// objects (base/age_buckets.h), or 0 when the profile has none (other
// profilers, older files).
format::StringIndex AgeLabelKey(const format::Profile& p);

// Sample i's age in seconds (its age bucket's lower bound; "ms" units
// converted), or -1 when it has no age label.
double SampleAgeSec(const format::Profile& p, size_t i, format::StringIndex age_key);

}  // namespace heapscope::analyze

namespace heapscope::analyze {

// Where resident memory went at the moment a profile was written, from the
// "heapscope: rss=... rss_heap=... ..." comment: parts in the runtime's
// order (heap, allocator_overhead, allocator_free, thread_stacks,
// anon_mappings, files, code, other), bytes; the allocator's two parts are
// absent when the allocator could not say.
struct RssParts {
  int64_t total = 0;
  int64_t vm_rss = 0;
  std::vector<std::pair<std::string, int64_t>> parts;
  bool allocator_known = false;
  // The program's malloc is another allocator's (comment heap_not_seen):
  // no "heap" part; its heap is in the anonymous mappings and "other".
  bool heap_not_seen = false;
};

// Empty when the profile carries no breakdown (older runtimes, other tools).
std::optional<RssParts> RssFromComments(const std::map<std::string, std::string>& kv);

// The name a person reads for a part ("live heap", "thread stacks", ...).
std::string RssPartLabel(const std::string& part);

}  // namespace heapscope::analyze
