#include "analyze/source_list.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "analyze/node_table.h"
#include "analyze/sample_type.h"
#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

// The companion of a sample type: inuse_space <-> inuse_objects,
// alloc_space <-> alloc_objects, space <-> objects.
size_t Companion(const format::Profile& p, size_t index) {
  std::string_view type = p.String(p.sample_types[index].type);
  std::string want;
  if (type.ends_with("space")) {
    want = std::string(type.substr(0, type.size() - 5)) + "objects";
  } else if (type.ends_with("objects")) {
    want = std::string(type.substr(0, type.size() - 7)) + "space";
  } else {
    return SIZE_MAX;
  }
  for (size_t i = 0; i < p.sample_types.size(); i++) {
    if (p.String(p.sample_types[i].type) == want) return i;
  }
  return SIZE_MAX;
}

struct LineValues {
  int64_t flat[2] = {0, 0};
  int64_t cum[2] = {0, 0};
};

struct FunctionAcc {
  std::string name;
  std::string file;
  int64_t start_line = 0;
  std::map<int64_t, LineValues> lines;
  int64_t flat[2] = {0, 0};
  int64_t cum[2] = {0, 0};
  uint32_t last_sample = UINT32_MAX;  // Counts a function's cum once per sample.
};

// Reads `path` into lines; false with `error` set when it cannot.
bool ReadLines(const std::string& path, std::vector<std::string>* out, std::string* error) {
  if (path.empty()) {
    *error = "the profile names no source file for it";
    return false;
  }
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read source " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string line;
  while (std::getline(in, line)) out->push_back(std::move(line));
  return true;
}

}  // namespace

format::Result<ListReport> ComputeList(const format::Profile& profile, const ListOptions& options) {
  std::regex re;
  try {
    re = std::regex(options.regex, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return format::Error{"not a valid regular expression: " + options.regex};
  }
  format::Result<size_t> index = SelectSampleType(profile, options.sample_type);
  if (!index.ok()) return format::Error{index.error()};
  const size_t vi[2] = {*index, Companion(profile, *index)};

  ListReport report;
  for (int k = 0; k < 2; k++) {
    if (vi[k] == SIZE_MAX) continue;
    report.sample_type[k] = profile.String(profile.sample_types[vi[k]].type);
    report.unit[k] = profile.String(profile.sample_types[vi[k]].unit);
  }
  const NodeTable nodes = NodeTable::Build(profile);
  if (!nodes.prune_warning().empty()) report.warnings.push_back(nodes.prune_warning());

  // Which functions match, by node (display name).
  std::vector<int8_t> matches(nodes.size(), -1);
  auto node_matches = [&](NodeId n) {
    if (matches[n] < 0) {
      matches[n] = std::regex_search(std::string(nodes.Name(n)), re) ? 1 : 0;
    }
    return matches[n] == 1;
  };

  std::map<std::pair<std::string, std::string>, FunctionAcc> functions;
  // Per sample: which (function, line) pairs already took its cum.
  std::vector<std::pair<FunctionAcc*, int64_t>> seen_lines;
  bool any_lines = false;
  const format::SampleTable& samples = profile.samples;
  for (size_t i = 0; i < samples.size(); i++) {
    std::span<const int64_t> values = samples.Values(i);
    int64_t v[2] = {values[vi[0]], vi[1] == SIZE_MAX ? 0 : values[vi[1]]};
    report.total += Abs(v[0]);
    if (v[0] == 0 && v[1] == 0) continue;
    std::span<const uint32_t> stack = samples.Locations(i);
    if (nodes.prunes()) stack = stack.subspan(nodes.PrunedPrefix(stack));
    seen_lines.clear();
    bool leaf = true;
    for (uint32_t loc_index : stack) {
      const format::Location& loc = profile.locations[loc_index];
      std::span<const format::Line> lines = profile.LinesOf(loc);
      std::span<const NodeId> chain = nodes.NodesOf(loc_index);
      // drop_frames may have cut the innermost lines of the chain: the
      // nodes left are those of its outer lines.
      if (chain.size() < lines.size()) lines = lines.subspan(lines.size() - chain.size());
      for (size_t k = 0; k < lines.size() && k < chain.size(); k++, leaf = false) {
        if (!node_matches(chain[k])) continue;
        const format::Line& line = lines[k];
        const format::Function& fn = profile.FunctionOf(line);
        if (line.line > 0) any_lines = true;
        FunctionAcc& acc = functions[{std::string(nodes.Name(chain[k])),
                                      std::string(profile.String(fn.filename))}];
        if (acc.name.empty()) {
          acc.name = nodes.Name(chain[k]);
          acc.file = profile.String(fn.filename);
        }
        if (fn.start_line > 0 && (acc.start_line == 0 || fn.start_line < acc.start_line)) {
          acc.start_line = fn.start_line;
        }
        LineValues& lv = acc.lines[line.line];
        const bool first_for_function = acc.last_sample != i;
        bool first_for_line = true;
        for (const auto& [a, l] : seen_lines) first_for_line &= !(a == &acc && l == line.line);
        for (int t = 0; t < 2; t++) {
          if (leaf) {
            lv.flat[t] += v[t];
            acc.flat[t] += v[t];
          }
          if (first_for_line) lv.cum[t] += v[t];
          if (first_for_function) acc.cum[t] += v[t];
        }
        if (first_for_line) seen_lines.emplace_back(&acc, line.line);
        acc.last_sample = static_cast<uint32_t>(i);
      }
      leaf = false;
    }
  }
  if (!functions.empty() && !any_lines) {
    report.warnings.push_back(
        "the profile has no line numbers for these functions; symbolize it (the binaries "
        "must be found, see --symbols)");
  }

  for (auto& [key, acc] : functions) {
    ListFunction out;
    out.name = acc.name;
    out.file = acc.file;
    std::copy(acc.flat, acc.flat + 2, out.flat);
    std::copy(acc.cum, acc.cum + 2, out.cum);
    std::vector<std::string> source;
    int64_t first = INT64_MAX, last = 0;
    for (const auto& [line, values] : acc.lines) {
      if (line <= 0) continue;
      first = std::min(first, line);
      last = std::max(last, line);
    }
    const bool have_source = ReadLines(acc.file, &source, &out.source_error);
    auto add_line = [&](int64_t line) {
      ListLine l;
      l.line = line;
      if (have_source && line >= 1 && static_cast<size_t>(line) <= source.size()) {
        l.text = source[static_cast<size_t>(line - 1)];
      }
      if (auto it = acc.lines.find(line); it != acc.lines.end()) {
        std::copy(it->second.flat, it->second.flat + 2, l.flat);
        std::copy(it->second.cum, it->second.cum + 2, l.cum);
      }
      out.lines.push_back(std::move(l));
    };
    if (have_source && first != INT64_MAX) {
      // From the declaration (or a little before the first line with a
      // value) to the closing brace at the start of a line after the last.
      int64_t begin = acc.start_line > 0 && acc.start_line <= first && first - acc.start_line < 2000
                          ? acc.start_line
                          : std::max<int64_t>(1, first - options.context);
      int64_t end = std::min<int64_t>(last + options.context, static_cast<int64_t>(source.size()));
      for (int64_t l = last; l <= static_cast<int64_t>(source.size()) && l < last + 500; l++) {
        if (source[static_cast<size_t>(l - 1)].starts_with("}")) {
          end = l;
          break;
        }
      }
      if (end > static_cast<int64_t>(source.size())) end = static_cast<int64_t>(source.size());
      if (last > static_cast<int64_t>(source.size())) {
        out.source_error = "source " + acc.file + " has " + std::to_string(source.size()) +
                           " lines, fewer than the profile refers to: it changed since the build";
        for (const auto& [line, values] : acc.lines) add_line(line);
      } else {
        for (int64_t l = begin; l <= end; l++) add_line(l);
      }
    } else {
      for (const auto& [line, values] : acc.lines) add_line(line);
    }
    report.functions.push_back(std::move(out));
  }
  return report;
}

std::string FormatListText(const ListReport& report) {
  std::string out;
  for (const std::string& w : report.warnings) out += "warning: " + w + "\n";
  const bool companion = !report.sample_type[1].empty();
  out += "Type: " + report.sample_type[0];
  if (companion) out += " (and " + report.sample_type[1] + ")";
  out += "\n";
  if (report.functions.empty()) {
    out += "no functions match\n";
    return out;
  }
  auto cell = [&](int64_t v, int t) {
    std::string s = v == 0 ? "." : Label(v, report.unit[t]);
    if (s.size() < 10) s.insert(0, 10 - s.size(), ' ');
    return s;
  };
  for (const ListFunction& f : report.functions) {
    out += "ROUTINE ======================== " + f.name + " in " +
           (f.file.empty() ? "??" : f.file) + "\n";
    out += cell(f.flat[0], 0) + " " + cell(f.cum[0], 0);
    if (companion) out += " " + cell(f.flat[1], 1) + " " + cell(f.cum[1], 1);
    out += " (flat, cum";
    if (companion) out += ", flat, cum objects";
    out += ") " + Percentage(f.cum[0], report.total) + " of Total\n";
    if (!f.source_error.empty()) out += "  (" + f.source_error + ")\n";
    for (const ListLine& l : f.lines) {
      out += cell(l.flat[0], 0) + " " + cell(l.cum[0], 0);
      if (companion) out += " " + cell(l.flat[1], 1) + " " + cell(l.cum[1], 1);
      std::string num = l.line > 0 ? std::to_string(l.line) : "?";
      if (num.size() < 6) num.insert(0, 6 - num.size(), ' ');
      out += " " + num + ": " + l.text + "\n";
    }
  }
  return out;
}

std::string FormatListJson(const ListReport& report) {
  nlohmann::ordered_json j;
  j["sample_type"] = report.sample_type[0];
  j["unit"] = report.unit[0];
  j["companion_type"] = report.sample_type[1];
  j["companion_unit"] = report.unit[1];
  j["total"] = report.total;
  j["warnings"] = report.warnings;
  nlohmann::ordered_json fns = nlohmann::ordered_json::array();
  for (const ListFunction& f : report.functions) {
    nlohmann::ordered_json fj;
    fj["function"] = f.name;
    fj["file"] = f.file;
    fj["source_error"] = f.source_error;
    fj["flat"] = f.flat[0];
    fj["cum"] = f.cum[0];
    fj["companion_flat"] = f.flat[1];
    fj["companion_cum"] = f.cum[1];
    nlohmann::ordered_json lines = nlohmann::ordered_json::array();
    for (const ListLine& l : f.lines) {
      nlohmann::ordered_json lj;
      lj["line"] = l.line;
      lj["source"] = l.text;
      lj["flat"] = l.flat[0];
      lj["cum"] = l.cum[0];
      lj["companion_flat"] = l.flat[1];
      lj["companion_cum"] = l.cum[1];
      lines.push_back(std::move(lj));
    }
    fj["lines"] = std::move(lines);
    fns.push_back(std::move(fj));
  }
  j["functions"] = std::move(fns);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace heapscope::analyze
