// `heapscope leaks [--format text|json] [-n N] [--limit SIZE] [--pid PID]
// SOURCE...`: which stacks keep growing across a series of heap snapshots
// (leak suspects), told apart from bounded caches, temporary peaks and
// tables built at start. The method is in analyze/trend.h and README.md.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "analyze/leaks.h"
#include "base/parse.h"
#include "cli/commands.h"
#include "web/web_data.h"

namespace heapscope::cli {
namespace {

struct LeaksCommandOptions {
  std::vector<std::string> sources;
  size_t rows = 10;
  std::string format = "text";
  std::string limit;
  long pid = 0;
  std::string html;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "heapscope: %s\n", message.c_str());
  return 1;
}

// The cgroup v2 memory limit of this process's cgroup, when one is set.
std::optional<int64_t> CgroupMemoryLimit() {
  std::ifstream f("/sys/fs/cgroup/memory.max");
  std::string value;
  if (!(f >> value) || value == "max") return std::nullopt;
  uint64_t bytes = 0;
  if (!base::ParseUint(value.c_str(), &bytes) || bytes == 0) return std::nullopt;
  return static_cast<int64_t>(bytes);
}

// Fills options->limit from --limit, else from the cgroup. Returns false
// (after printing) when --limit does not parse.
bool ResolveLimit(const std::string& flag, analyze::LeakOptions* options) {
  if (!flag.empty()) {
    uint64_t bytes = 0;
    if (!base::ParseSize(flag.c_str(), &bytes) || bytes == 0) {
      Fail("--limit wants a size such as 2G or 512MiB, got '" + flag + "'");
      return false;
    }
    options->limit = static_cast<int64_t>(bytes);
    options->limit_source = "--limit";
    return true;
  }
  if (auto cg = CgroupMemoryLimit()) {
    options->limit = *cg;
    options->limit_source = "cgroup memory.max";
  }
  return true;
}

bool WriteOut(const std::string& out, FILE* f) {
  return std::fwrite(out.data(), 1, out.size(), f) == out.size() && std::fflush(f) == 0;
}

int RunLeaks(const LeaksCommandOptions& o) {
  analyze::LeakOptions options;
  options.max_suspects = o.rows;
  if (!ResolveLimit(o.limit, &options)) return 1;
  std::vector<std::string> warnings;
  auto snaps = analyze::LoadLeakSnapshots(o.sources, o.pid, &warnings);
  if (!snaps.ok()) return Fail(snaps.error());
  for (const auto& w : warnings) std::fprintf(stderr, "heapscope: warning: %s\n", w.c_str());
  analyze::LeakReport report = analyze::AnalyzeLeaks(*snaps, options);
  std::string out =
      o.format == "json" ? analyze::FormatLeaksJson(report) : analyze::FormatLeaksText(report);
  if (!WriteOut(out, stdout)) return Fail("cannot write the report to standard output");
  if (!o.html.empty()) {
    web::WebOptions page;
    page.sources = o.sources;
    page.pid = o.pid;
    page.series = true;
    page.limit = options.limit;
    page.limit_source = options.limit_source;
    return WriteOfflinePage(page, "leaks", o.html);
  }
  return 0;
}

}  // namespace

void PrintRunLeakReport(const std::string& out_dir, FILE* out) {
  analyze::LeakOptions options;
  options.max_suspects = 5;
  if (!ResolveLimit("", &options)) return;
  std::vector<std::string> warnings;
  auto snaps = analyze::LoadLeakSnapshots({out_dir}, 0, &warnings);
  if (!snaps.ok() || snaps->size() < options.trend.min_snapshots) return;
  analyze::LeakReport report = analyze::AnalyzeLeaks(*snaps, options);
  std::string text = analyze::FormatLeaksText(report);
  // Every line carries the "heapscope:" prefix like the rest of the summary.
  std::string prefixed;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    if (!line.empty()) prefixed += "heapscope: " + line + "\n";
    start = nl + 1;
  }
  fprintf(out, "%s", prefixed.c_str());
  fprintf(out, "heapscope: details: heapscope leaks %s\n", out_dir.c_str());
}

CommandFn RegisterLeaksCommand(CLI::App& app) {
  auto o = std::make_shared<LeaksCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "leaks",
      "Find what keeps growing across heap snapshots (leak suspects), told apart from bounded "
      "caches, temporary peaks and tables built at start");
  cmd->footer(
      "SOURCE is a snapshot directory written by the runtime (heap.NNNN.pb.gz in order, then "
      "heap.final.pb.gz; child processes' heap.PID.* files only with --pid), or profile files "
      "in time order. Live endpoint URLs are not supported yet. At least 6 snapshots are needed "
      "before anything is called growing. README.md, \"Leak trends: how verdicts are reached\", "
      "explains the method and the JSON schema.");
  cmd->add_option("-n,--rows", o->rows, "How many suspects to show (0 shows all)")
      ->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--limit", o->limit,
                  "Memory limit (e.g. 2G) to project the time to; default: the cgroup v2 "
                  "memory.max when set");
  cmd->add_option("--pid", o->pid,
                  "In a directory, read the child process PID's heap.PID.* snapshots");
  cmd->add_option("--html", o->html,
                  "Also write the leak-trend page (charts, flame graph, top, diff) as one HTML file");
  cmd->add_option("source", o->sources, "Snapshot directory, or profile files in time order")
      ->required();
  return [o] { return RunLeaks(*o); };
}

}  // namespace heapscope::cli
