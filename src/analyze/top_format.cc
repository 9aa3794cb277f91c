// Text and JSON renderings of a TopReport.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "analyze/top.h"
#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

double RoundedPercent(int64_t value, int64_t total) {
  if (total == 0) return 0;
  double pct = static_cast<double>(value) / static_cast<double>(total) * 100;
  return std::round(pct * 100) / 100;
}

// Go's "Jan 2, 2006 at 3:04pm (MST)" in local time, as pprof prints it.
std::string FormatTime(int64_t nanos) {
  time_t secs = static_cast<time_t>(nanos / 1000000000);
  struct tm tm;
  if (localtime_r(&secs, &tm) == nullptr) return std::to_string(nanos) + "ns";
  char buf[96];
  if (std::strftime(buf, sizeof(buf), "%b %-d, %Y at %-I:%M%P (%Z)", &tm) == 0) {
    return std::to_string(nanos) + "ns";
  }
  return buf;
}

}  // namespace

std::string FormatTopText(const TopReport& report) {
  // One unit for the whole table, chosen from the smallest value shown.
  int64_t min_value = 0;
  for (const TopRow& row : report.rows) {
    int64_t v = Abs(row.flat) != 0 ? Abs(row.flat) : Abs(row.cum);
    if (v > 0 && (min_value == 0 || v < min_value)) min_value = v;
  }
  const std::string out_unit = SelectOutputUnit(min_value, report.total, report.unit);
  auto value = [&](int64_t v) { return ScaledLabel(v, report.unit, out_unit); };

  std::string out;
  for (const std::string& note : report.notes) out += note + "\n";
  for (const std::string& warning : report.warnings) out += "warning: " + warning + "\n";
  if (!report.file.empty()) out += "File: " + report.file + "\n";
  if (!report.build_id.empty()) out += "Build ID: " + report.build_id + "\n";
  out += "Type: " + report.sample_type + "\n";
  if (report.time_nanos != 0) out += "Time: " + FormatTime(report.time_nanos) + "\n";
  if (report.duration_nanos != 0) {
    std::string ratio;
    Scaled nanos = Scale(report.total, report.unit, "nanoseconds");
    if (nanos.unit == "ns" && nanos.value != 0) {
      ratio = " (" + Percentage(static_cast<int64_t>(nanos.value), report.duration_nanos) + ")";
    }
    out += "Duration: " + Label(report.duration_nanos, "nanoseconds") +
           ", Total samples = " + value(report.total) + ratio + "\n";
  }
  std::string pct = Percentage(report.shown_flat, report.total);
  size_t first = pct.find_first_not_of(' ');
  out += "Showing nodes accounting for " + value(report.shown_flat) + ", " +
         pct.substr(first == std::string::npos ? 0 : first) + " of " + value(report.total) +
         " total\n";
  if (!report.rows.empty() && report.rows.size() < report.node_count) {
    out += "Showing top " + std::to_string(report.rows.size()) + " nodes out of " +
           std::to_string(report.node_count) + "\n";
  }
  char line[160];
  std::snprintf(line, sizeof(line), "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum",
                "cum");
  out += line;
  int64_t flat_sum = 0;
  for (const TopRow& row : report.rows) {
    flat_sum += row.flat;
    std::snprintf(line, sizeof(line), "%10s %s %s %10s %s  ", value(row.flat).c_str(),
                  Percentage(row.flat, report.total).c_str(),
                  Percentage(flat_sum, report.total).c_str(), value(row.cum).c_str(),
                  Percentage(row.cum, report.total).c_str());
    out += line;
    out += row.name;
    if (!row.inline_label.empty()) {
      out += ' ';
      out += row.inline_label;
    }
    out += '\n';
  }
  return out;
}

std::string FormatTopJson(const TopReport& report) {
  nlohmann::ordered_json j;
  j["sample_type"] = report.sample_type;
  j["unit"] = report.unit;
  j["total"] = report.total;
  j["node_count"] = report.node_count;
  j["comments"] = report.notes;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const TopRow& row : report.rows) {
    nlohmann::ordered_json r;
    r["function"] = row.name;
    r["flat"] = row.flat;
    r["flat_pct"] = RoundedPercent(row.flat, report.total);
    r["cum"] = row.cum;
    r["cum_pct"] = RoundedPercent(row.cum, report.total);
    rows.push_back(std::move(r));
  }
  j["rows"] = std::move(rows);
  // Function names are arbitrary bytes; replace invalid UTF-8 rather than
  // throw.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace heapscope::analyze
