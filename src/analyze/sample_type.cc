#include "analyze/sample_type.h"

#include <charconv>

namespace heapscope::analyze {

std::string SampleTypeList(const format::Profile& profile) {
  std::string out;
  for (const format::ValueType& vt : profile.sample_types) {
    if (!out.empty()) out += ", ";
    out += profile.String(vt.type);
  }
  return out;
}

format::Result<size_t> SelectSampleType(const format::Profile& profile, std::string_view name) {
  const auto& types = profile.sample_types;
  if (types.empty()) return format::Error{"the profile has no sample types (no values to show)"};
  if (name.empty()) {
    std::string_view def = profile.String(profile.default_sample_type);
    if (!def.empty()) {
      for (size_t i = 0; i < types.size(); i++) {
        if (profile.String(types[i].type) == def) return i;
      }
    }
    return types.size() - 1;
  }
  for (size_t i = 0; i < types.size(); i++) {
    if (profile.String(types[i].type) == name) return i;
  }
  size_t index = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
  if (ec == std::errc() && end == name.data() + name.size() && index < types.size()) {
    return index;
  }
  return format::Error{"unknown sample type \"" + std::string(name) +
                       "\"; this profile has: " + SampleTypeList(profile)};
}

}  // namespace heapscope::analyze
