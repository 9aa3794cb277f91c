#include "analyze/filter.h"

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string_view>
#include <vector>

#include "analyze/node_table.h"
#include "analyze/runtime_comments.h"

namespace heapscope::analyze {
namespace {

format::Result<std::optional<std::regex>> CompilePattern(const std::string& pattern,
                                                         std::string_view flag) {
  if (pattern.empty()) return std::optional<std::regex>();
  try {
    return std::optional<std::regex>(std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    return format::Error{std::string(flag) + " \"" + pattern +
                         "\" is not a valid regular expression (" + e.what() + ")"};
  }
}

bool Search(const std::regex& re, std::string_view s) {
  try {
    return std::regex_search(s.begin(), s.end(), re);
  } catch (const std::regex_error&) {
    // Only complexity limits throw here; such a name does not match.
    return false;
  }
}

}  // namespace

format::Result<FilterStats> ApplySampleFilter(format::Profile* profile,
                                              const SampleFilter& filter) {
  format::Result<std::optional<std::regex>> focus = CompilePattern(filter.focus, "--focus");
  if (!focus.ok()) return format::Error{focus.error()};
  format::Result<std::optional<std::regex>> ignore = CompilePattern(filter.ignore, "--ignore");
  if (!ignore.ok()) return format::Error{ignore.error()};

  format::SampleTable& samples = profile->samples;
  FilterStats stats;
  const bool by_age = filter.min_age_sec >= 0;
  const format::StringIndex age_key = by_age ? AgeLabelKey(*profile) : 0;
  if (by_age) {
    if (age_key == 0) {
      return format::Error{
          "--min-age: this profile has no object ages (the \"age\" label heapscope's runtime "
          "puts on in-use objects)"};
    }
  }
  // Whether sample i holds objects at least min_age_sec old.
  auto old_enough = [&](size_t i) {
    const double age = SampleAgeSec(*profile, i, age_key);
    return age >= 0 && age >= filter.min_age_sec;
  };
  if (!focus->has_value() && !ignore->has_value() && !by_age) {
    stats.kept = samples.size();
    return stats;
  }

  // Each name is matched once; a location matches when one of its frames
  // (inline chain included) does.
  const NodeTable nodes = NodeTable::Build(*profile);
  constexpr uint8_t kFocus = 1, kIgnore = 2;
  std::vector<uint8_t> node_bits(nodes.size(), 0);
  for (NodeId n = 0; n < nodes.size(); n++) {
    if (focus->has_value() && Search(**focus, nodes.Name(n))) node_bits[n] |= kFocus;
    if (ignore->has_value() && Search(**ignore, nodes.Name(n))) node_bits[n] |= kIgnore;
  }
  std::vector<uint8_t> location_bits(profile->locations.size(), 0);
  for (uint32_t l = 0; l < profile->locations.size(); l++) {
    for (NodeId n : nodes.NodesOf(l)) location_bits[l] |= node_bits[n];
  }

  format::SampleTable kept;
  kept.num_values = samples.num_values;
  kept.location_offsets.push_back(0);
  kept.label_offsets.push_back(0);
  for (size_t i = 0; i < samples.size(); i++) {
    std::span<const uint32_t> stack = samples.Locations(i);
    stack = stack.subspan(nodes.PrunedPrefix(stack));
    uint8_t bits = 0;
    for (uint32_t l : stack) bits |= location_bits[l];
    const bool keep = (!focus->has_value() || (bits & kFocus) != 0) && (bits & kIgnore) == 0 &&
                      (!by_age || old_enough(i));
    if (!keep) {
      stats.dropped++;
      continue;
    }
    stats.kept++;
    std::span<const uint32_t> all = samples.Locations(i);
    kept.location_index.insert(kept.location_index.end(), all.begin(), all.end());
    kept.location_offsets.push_back(kept.location_index.size());
    std::span<const int64_t> values = samples.Values(i);
    kept.values.insert(kept.values.end(), values.begin(), values.end());
    std::span<const format::Label> labels = samples.Labels(i);
    kept.labels.insert(kept.labels.end(), labels.begin(), labels.end());
    kept.label_offsets.push_back(kept.labels.size());
  }
  samples = std::move(kept);
  return stats;
}

}  // namespace heapscope::analyze
