#include "analyze/node_table.h"

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <regex>
#include <unordered_map>

#include "analyze/function_names.h"

namespace heapscope::analyze {
namespace {

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A full-match regular expression built from a profile's drop_frames or
// keep_frames, as pprof compiles them: "^(" + pattern + ")$". std::regex
// speaks ECMAScript rather than RE2, which agree on the patterns profiles
// carry (alternations of names, ".*", character classes).
class FrameRegex {
 public:
  // Returns false if `pattern` does not compile.
  bool Compile(std::string_view pattern) {
    try {
      re_.emplace(std::string(pattern), std::regex::ECMAScript | std::regex::optimize);
      return true;
    } catch (const std::regex_error&) {
      re_.reset();
      return false;
    }
  }
  bool active() const { return re_.has_value(); }
  bool FullMatch(std::string_view s) const {
    try {
      return std::regex_match(s.begin(), s.end(), *re_);
    } catch (const std::regex_error&) {
      // Only complexity limits throw here; treat such a name as unmatched.
      return false;
    }
  }

 private:
  std::optional<std::regex> re_;
};

}  // namespace

std::string UnsymbolizedName(const format::Profile& profile, const format::Location& loc) {
  char buf[64];
  if (loc.mapping != format::kNoIndex) {
    const format::Mapping& m = profile.mappings[loc.mapping];
    std::string_view file = BaseName(profile.String(m.filename));
    if (!file.empty()) {
      uint64_t offset = loc.address >= m.memory_start ? loc.address - m.memory_start + m.file_offset
                                                      : loc.address;
      std::snprintf(buf, sizeof(buf), "+0x%" PRIx64, offset);
      return std::string(file) + buf;
    }
  }
  if (loc.address == 0) return "<unknown>";
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, loc.address);
  return buf;
}

NodeId NodeTable::Intern(std::string_view name) {
  NodeId id = static_cast<NodeId>(names_.size());
  names_.push_back(name);
  return id;
}

NodeTable NodeTable::Build(const format::Profile& profile) {
  NodeTable t;
  const size_t num_locations = profile.locations.size();
  std::unordered_map<std::string_view, NodeId> by_name;
  by_name.reserve(profile.functions.size() + 16);
  auto node_for_name = [&](std::string_view name) {
    auto [it, inserted] = by_name.emplace(name, 0);
    if (inserted) it->second = t.Intern(name);
    return it->second;
  };
  // Functions repeat across locations: name each one once.
  std::vector<NodeId> function_node(profile.functions.size(), format::kNoIndex);
  std::vector<std::string_view> display(profile.functions.size());
  std::vector<bool> display_done(profile.functions.size(), false);
  auto display_name = [&](uint32_t fn_index) {
    if (!display_done[fn_index]) {
      display_done[fn_index] = true;
      const format::Function& fn = profile.functions[fn_index];
      std::string_view name = profile.String(fn.name);
      std::string shown = DisplayName(name, profile.String(fn.system_name));
      if (shown == name) {
        display[fn_index] = name;
      } else {
        display[fn_index] = t.owned_names_.emplace_back(std::move(shown));
      }
    }
    return display[fn_index];
  };

  // drop_frames / keep_frames, per location (pprof's Profile.Prune).
  FrameRegex drop, keep;
  if (std::string_view d = profile.String(profile.drop_frames); !d.empty()) {
    if (!drop.Compile("^(" + std::string(d) + ")$")) {
      t.prune_warning_ =
          "ignoring the profile's drop_frames, which is not a valid regular "
          "expression: " +
          std::string(d);
    } else if (std::string_view k = profile.String(profile.keep_frames); !k.empty()) {
      if (!keep.Compile("^(" + std::string(k) + ")$")) {
        t.prune_warning_ =
            "ignoring the profile's keep_frames, which is not a valid regular "
            "expression: " +
            std::string(k);
      }
    }
  }
  std::vector<int8_t> function_dropped;  // -1 unknown, 0 kept, 1 dropped.
  if (drop.active()) {
    t.prune_.assign(num_locations, Prune::kNone);
    function_dropped.assign(profile.functions.size(), -1);
  }
  auto dropped = [&](uint32_t fn_index) {
    int8_t& d = function_dropped[fn_index];
    if (d < 0) {
      std::string_view name = display_name(fn_index);
      std::string_view simple = SimplifyFunctionName(name);
      d = !name.empty() && drop.FullMatch(simple) && !(keep.active() && keep.FullMatch(simple));
    }
    return d == 1;
  };

  t.offsets_.reserve(num_locations + 1);
  t.nodes_.reserve(profile.lines.size() + num_locations);
  t.offsets_.push_back(0);
  for (size_t li = 0; li < num_locations; li++) {
    const format::Location& loc = profile.locations[li];
    std::span<const format::Line> lines = profile.LinesOf(loc);
    if (drop.active()) {
      // The outermost dropped line decides: the location goes entirely if
      // that is its outermost line, else only the lines inside it.
      for (size_t i = lines.size(); i-- > 0;) {
        if (dropped(lines[i].function)) {
          if (i == lines.size() - 1) {
            t.prune_[li] = Prune::kAll;
          } else {
            t.prune_[li] = Prune::kBeneath;
            lines = lines.subspan(i + 1);
          }
          break;
        }
      }
    }
    bool unsymbolized_added = false;
    for (const format::Line& line : lines) {
      NodeId& node = function_node[line.function];
      if (node == format::kNoIndex) {
        std::string_view name = display_name(line.function);
        if (name.empty()) {
          // A function without a name says no more than its address.
          if (!unsymbolized_added) {
            unsymbolized_added = true;
            const std::string& owned = t.owned_names_.emplace_back(UnsymbolizedName(profile, loc));
            t.nodes_.push_back(node_for_name(owned));
          }
          continue;
        }
        node = node_for_name(name);
      }
      t.nodes_.push_back(node);
    }
    if (lines.empty()) {
      const std::string& owned = t.owned_names_.emplace_back(UnsymbolizedName(profile, loc));
      t.nodes_.push_back(node_for_name(owned));
    }
    t.offsets_.push_back(static_cast<uint32_t>(t.nodes_.size()));
  }
  return t;
}

size_t NodeTable::PrunedPrefix(std::span<const uint32_t> locations) const {
  if (prune_.empty()) return 0;
  // From the root toward the leaf; frames before the first kept one stay,
  // so a stack is never pruned to nothing.
  bool found_user = false;
  for (size_t i = locations.size(); i-- > 0;) {
    Prune p = prune_[locations[i]];
    if (p == Prune::kNone) {
      found_user = true;
      continue;
    }
    if (!found_user) continue;
    return p == Prune::kAll ? i + 1 : i;
  }
  return 0;
}

}  // namespace heapscope::analyze
