#include "analyze/diff.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "analyze/sample_type.h"
#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

// Growth before shrink; within growth the largest first, within shrink the
// largest shrink first; `second` breaks ties the same way.
bool GrowthOrder(int64_t a1, int64_t a2, int64_t b1, int64_t b2) {
  auto group = [](int64_t first, int64_t second) {
    return first > 0 || (first == 0 && second > 0) ? 0 : 1;
  };
  int ga = group(a1, a2), gb = group(b1, b2);
  if (ga != gb) return ga < gb;
  if (a1 != b1) return ga == 0 ? a1 > b1 : a1 < b1;
  if (a2 != b2) return ga == 0 ? a2 > b2 : a2 < b2;
  return false;
}

std::string Signed(int64_t v, const std::string& unit, const std::string& out_unit) {
  std::string s = ScaledLabel(v, unit, out_unit);
  return v > 0 ? "+" + s : s;
}

std::string Join(const std::vector<std::string>& frames) {
  std::string s;
  for (size_t i = 0; i < frames.size(); i++) {
    if (i > 0) s += ';';
    s += frames[i];
  }
  return s;
}

}  // namespace

format::Result<std::string> SelectDiffSampleType(const format::Profile& base,
                                                 const format::Profile& next,
                                                 std::string_view name) {
  format::Result<size_t> ni = SelectSampleType(next, name);
  if (!ni.ok()) return format::Error{"NEW: " + ni.error()};
  const format::ValueType& nt = next.sample_types[*ni];
  std::string type(next.String(nt.type));
  for (const format::ValueType& bt : base.sample_types) {
    if (base.String(bt.type) != type) continue;
    if (base.String(bt.unit) != next.String(nt.unit)) {
      return format::Error{"sample type " + type + " is in " + std::string(base.String(bt.unit)) +
                           " in BASE but in " + std::string(next.String(nt.unit)) +
                           " in NEW; diff needs the same sample type on both sides"};
    }
    return type;
  }
  return format::Error{"BASE has no sample type " + type + " (it has " + SampleTypeList(base) +
                       "; NEW has " + SampleTypeList(next) +
                       "); diff needs two profiles with the same sample type"};
}

DiffReport ComputeDiff(const CollapsedStacks& base, const CollapsedStacks& next, size_t max_rows) {
  DiffReport report;
  report.sample_type = next.sample_type;
  report.unit = next.unit;
  report.base_total = base.total;
  report.new_total = next.total;
  report.warnings = base.warnings;
  for (const std::string& w : next.warnings) {
    if (std::find(report.warnings.begin(), report.warnings.end(), w) == report.warnings.end()) {
      report.warnings.push_back(w);
    }
  }

  const MergedStacks merged = MergeStacks(&base, next);
  const size_t num_names = merged.names.size();

  // Functions, by name.
  std::vector<DiffFunction> functions(num_names);
  const FunctionValues bv = ComputeFunctionValues(base);
  for (size_t f = 0; f < base.names.size(); f++) {
    functions[merged.base_ids[f]].base_flat = bv.flat[f];
    functions[merged.base_ids[f]].base_cum = bv.cum[f];
  }
  const FunctionValues nv = ComputeFunctionValues(next);
  for (size_t f = 0; f < next.names.size(); f++) {
    functions[merged.next_ids[f]].new_flat = nv.flat[f];
    functions[merged.next_ids[f]].new_cum = nv.cum[f];
  }
  // Merged names are in name order, so a stable sort keeps ties by name.
  std::vector<uint32_t> changed;
  for (uint32_t f = 0; f < num_names; f++) {
    if (functions[f].flat_delta() != 0 || functions[f].cum_delta() != 0) changed.push_back(f);
  }
  std::stable_sort(changed.begin(), changed.end(), [&](uint32_t a, uint32_t b) {
    const DiffFunction &fa = functions[a], &fb = functions[b];
    return GrowthOrder(fa.flat_delta(), fa.cum_delta(), fb.flat_delta(), fb.cum_delta());
  });
  report.function_count = changed.size();
  if (max_rows != 0 && changed.size() > max_rows) changed.resize(max_rows);
  for (uint32_t f : changed) {
    DiffFunction d = functions[f];
    d.function = merged.names[f];
    report.functions.push_back(std::move(d));
  }

  // Stacks, likewise (merged stacks are in name order).
  std::vector<uint32_t> stacks;
  for (uint32_t i = 0; i < merged.stacks.size(); i++) {
    if (merged.stacks[i].next != merged.stacks[i].base) stacks.push_back(i);
  }
  std::stable_sort(stacks.begin(), stacks.end(), [&](uint32_t a, uint32_t b) {
    const MergedStack &sa = merged.stacks[a], &sb = merged.stacks[b];
    return GrowthOrder(sa.next - sa.base, 0, sb.next - sb.base, 0);
  });
  report.stack_count = stacks.size();
  if (max_rows != 0 && stacks.size() > max_rows) stacks.resize(max_rows);
  for (uint32_t i : stacks) {
    const MergedStack& s = merged.stacks[i];
    DiffStack d;
    d.base = s.base;
    d.next = s.next;
    for (uint32_t f : s.frames) d.frames.push_back(merged.names[f]);
    report.stacks.push_back(std::move(d));
  }
  return report;
}

std::string FormatDiffText(const DiffReport& report) {
  int64_t min_value = 0;
  auto consider = [&](int64_t v) {
    v = Abs(v);
    if (v > 0 && (min_value == 0 || v < min_value)) min_value = v;
  };
  for (const DiffFunction& f : report.functions) {
    consider(f.flat_delta() != 0 ? f.flat_delta() : f.cum_delta());
  }
  for (const DiffStack& s : report.stacks) consider(s.delta());
  const int64_t larger_total = std::max(Abs(report.base_total), Abs(report.new_total));
  const std::string out_unit = SelectOutputUnit(min_value, larger_total, report.unit);
  auto value = [&](int64_t v) { return ScaledLabel(v, report.unit, out_unit); };
  auto delta = [&](int64_t v) { return Signed(v, report.unit, out_unit); };

  std::string out;
  for (const std::string& warning : report.warnings) out += "warning: " + warning + "\n";
  out += "Type: " + report.sample_type + "\n";
  const int64_t change = report.new_total - report.base_total;
  out += "Total: " + value(report.base_total) + " -> " + value(report.new_total) + " (" +
         delta(change);
  if (report.base_total != 0) {
    std::string pct = Percentage(change, report.base_total);
    size_t first = pct.find_first_not_of(' ');
    out += ", " + std::string(change > 0 ? "+" : change < 0 ? "-" : "") + pct.substr(first);
  }
  out += ")\n";

  char line[160];
  out += "\nFunctions by growth";
  if (report.functions.size() < report.function_count) {
    out += " (top " + std::to_string(report.functions.size()) + " of " +
           std::to_string(report.function_count) + " that changed)";
  }
  out += ":\n";
  std::snprintf(line, sizeof(line), "%11s %11s %10s %10s  %s\n", "flat delta", "cum delta",
                "base flat", "new flat", "function");
  out += line;
  for (const DiffFunction& f : report.functions) {
    std::snprintf(line, sizeof(line), "%11s %11s %10s %10s  ", delta(f.flat_delta()).c_str(),
                  delta(f.cum_delta()).c_str(), value(f.base_flat).c_str(),
                  value(f.new_flat).c_str());
    out += line;
    out += f.function;
    out += '\n';
  }
  if (report.functions.empty()) out += "  (no function changed)\n";

  out += "\nStacks by growth";
  if (report.stacks.size() < report.stack_count) {
    out += " (top " + std::to_string(report.stacks.size()) + " of " +
           std::to_string(report.stack_count) + " that changed)";
  }
  out += ":\n";
  std::snprintf(line, sizeof(line), "%11s %10s %10s  %s\n", "delta", "base", "new",
                "stack (root;...;leaf)");
  out += line;
  for (const DiffStack& s : report.stacks) {
    std::snprintf(line, sizeof(line), "%11s %10s %10s  ", delta(s.delta()).c_str(),
                  value(s.base).c_str(), value(s.next).c_str());
    out += line;
    out += Join(s.frames);
    out += '\n';
  }
  if (report.stacks.empty()) out += "  (no stack changed)\n";
  return out;
}

std::string FormatDiffJson(const DiffReport& report) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["sample_type"] = report.sample_type;
  j["unit"] = report.unit;
  j["base_total"] = report.base_total;
  j["new_total"] = report.new_total;
  j["function_count"] = report.function_count;
  j["stack_count"] = report.stack_count;
  Json functions = Json::array();
  for (const DiffFunction& f : report.functions) {
    Json r;
    r["function"] = f.function;
    r["flat_delta"] = f.flat_delta();
    r["cum_delta"] = f.cum_delta();
    r["base_flat"] = f.base_flat;
    r["new_flat"] = f.new_flat;
    r["base_cum"] = f.base_cum;
    r["new_cum"] = f.new_cum;
    functions.push_back(std::move(r));
  }
  j["functions"] = std::move(functions);
  Json stacks = Json::array();
  for (const DiffStack& s : report.stacks) {
    Json r;
    r["frames"] = s.frames;
    r["delta"] = s.delta();
    r["base"] = s.base;
    r["new"] = s.next;
    stacks.push_back(std::move(r));
  }
  j["stacks"] = std::move(stacks);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace heapscope::analyze
