#include "analyze/tree.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

void SortEdges(std::vector<TreeEdge>* edges) {
  std::sort(edges->begin(), edges->end(), [](const TreeEdge& a, const TreeEdge& b) {
    if (Abs(a.value) != Abs(b.value)) return Abs(a.value) > Abs(b.value);
    return a.function < b.function;
  });
}

std::string Trimmed(std::string s) {
  size_t first = s.find_first_not_of(' ');
  return first == std::string::npos ? s : s.substr(first);
}

}  // namespace

TreeReport ComputeTree(const CollapsedStacks& stacks, size_t max_nodes) {
  TreeReport report;
  report.sample_type = stacks.sample_type;
  report.unit = stacks.unit;
  report.total = stacks.total;
  report.warnings = stacks.warnings;

  const FunctionValues fv = ComputeFunctionValues(stacks);
  std::vector<uint32_t> order;
  for (uint32_t f = 0; f < stacks.names.size(); f++) {
    if (fv.flat[f] != 0 || fv.cum[f] != 0) order.push_back(f);
  }
  report.node_count = order.size();
  // Names are numbered in name order, so the index breaks ties by name.
  auto before = [&](uint32_t a, uint32_t b) {
    if (Abs(fv.cum[a]) != Abs(fv.cum[b])) return Abs(fv.cum[a]) > Abs(fv.cum[b]);
    return a < b;
  };
  const size_t shown = max_nodes == 0 ? order.size() : std::min(max_nodes, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                    before);
  order.resize(shown);

  // Edges touching a shown function, once per stack.
  std::vector<int> slot(stacks.names.size(), -1);
  for (size_t i = 0; i < order.size(); i++) slot[order[i]] = static_cast<int>(i);
  std::vector<std::map<uint32_t, int64_t>> callers(order.size()), callees(order.size());
  std::vector<std::pair<uint32_t, uint32_t>> seen;
  for (const CollapsedStack& s : stacks.stacks) {
    seen.clear();
    for (size_t k = 1; k < s.frames.size(); k++) {
      const uint32_t caller = s.frames[k - 1], callee = s.frames[k];
      if (slot[caller] < 0 && slot[callee] < 0) continue;
      std::pair<uint32_t, uint32_t> edge{caller, callee};
      if (std::find(seen.begin(), seen.end(), edge) != seen.end()) continue;
      seen.push_back(edge);
      if (slot[callee] >= 0) callers[slot[callee]][caller] += s.value;
      if (slot[caller] >= 0) callees[slot[caller]][callee] += s.value;
    }
  }
  for (size_t i = 0; i < order.size(); i++) {
    TreeNode node;
    node.function = stacks.names[order[i]];
    node.flat = fv.flat[order[i]];
    node.cum = fv.cum[order[i]];
    for (const auto& [f, v] : callers[i]) node.callers.push_back({stacks.names[f], v});
    for (const auto& [f, v] : callees[i]) node.callees.push_back({stacks.names[f], v});
    SortEdges(&node.callers);
    SortEdges(&node.callees);
    report.shown_flat += node.flat;
    report.nodes.push_back(std::move(node));
  }
  return report;
}

std::string FormatTreeText(const TreeReport& report) {
  int64_t min_value = 0;
  auto consider = [&](int64_t v) {
    v = Abs(v);
    if (v > 0 && (min_value == 0 || v < min_value)) min_value = v;
  };
  for (const TreeNode& n : report.nodes) {
    consider(n.flat != 0 ? n.flat : n.cum);
    for (const TreeEdge& e : n.callers) consider(e.value);
    for (const TreeEdge& e : n.callees) consider(e.value);
  }
  const std::string out_unit = SelectOutputUnit(min_value, report.total, report.unit);
  auto value = [&](int64_t v) { return ScaledLabel(v, report.unit, out_unit); };

  std::string out;
  for (const std::string& warning : report.warnings) out += "warning: " + warning + "\n";
  out += "Type: " + report.sample_type + "\n";
  out += "Showing nodes accounting for " + value(report.shown_flat) + ", " +
         Trimmed(Percentage(report.shown_flat, report.total)) + " of " + value(report.total) +
         " total\n";
  if (!report.nodes.empty() && report.nodes.size() < report.node_count) {
    out += "Showing top " + std::to_string(report.nodes.size()) + " nodes out of " +
           std::to_string(report.node_count) + " by cum\n";
  }
  static constexpr char kSeparator[] =
      "----------------------------------------------------------+-------------\n";
  out += kSeparator;
  out += "      flat  flat%   sum%        cum   cum%   calls calls% + context\n";
  char line[160];
  int64_t flat_sum = 0;
  auto edge_line = [&](const TreeEdge& e, int64_t cum) {
    std::snprintf(line, sizeof(line), "%50s %s |   ", value(e.value).c_str(),
                  Percentage(e.value, cum).c_str());
    out += line;
    out += e.function;
    out += '\n';
  };
  for (const TreeNode& n : report.nodes) {
    out += kSeparator;
    for (const TreeEdge& e : n.callers) edge_line(e, n.cum);
    flat_sum += n.flat;
    std::snprintf(line, sizeof(line), "%10s %s %s %10s %s                | ", value(n.flat).c_str(),
                  Percentage(n.flat, report.total).c_str(),
                  Percentage(flat_sum, report.total).c_str(), value(n.cum).c_str(),
                  Percentage(n.cum, report.total).c_str());
    out += line;
    out += n.function;
    out += '\n';
    for (const TreeEdge& e : n.callees) edge_line(e, n.cum);
  }
  if (!report.nodes.empty()) out += kSeparator;
  return out;
}

std::string FormatTreeJson(const TreeReport& report) {
  using Json = nlohmann::ordered_json;
  auto edges = [](const std::vector<TreeEdge>& list) {
    Json a = Json::array();
    for (const TreeEdge& e : list) a.push_back(Json{{"function", e.function}, {"value", e.value}});
    return a;
  };
  Json j;
  j["sample_type"] = report.sample_type;
  j["unit"] = report.unit;
  j["total"] = report.total;
  j["node_count"] = report.node_count;
  Json nodes = Json::array();
  for (const TreeNode& n : report.nodes) {
    Json node;
    node["function"] = n.function;
    node["flat"] = n.flat;
    node["cum"] = n.cum;
    node["callers"] = edges(n.callers);
    node["callees"] = edges(n.callees);
    nodes.push_back(std::move(node));
  }
  j["nodes"] = std::move(nodes);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace heapscope::analyze
