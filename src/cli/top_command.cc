// `heapscope top [--sample TYPE] [-n N] [--format text|json] FILE`: the
// functions that hold the most, like `go tool pprof -top`.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "analyze/filter.h"
#include "analyze/symbolizer.h"
#include "analyze/top.h"
#include "cli/commands.h"
#include "format/profile_reader.h"

namespace heapscope::cli {
namespace {

struct TopCommandOptions {
  std::string file;
  std::string sample_type;
  size_t rows = 20;
  std::string format = "text";
  bool lines = false;                    // --lines: rows by file:line.
  bool noinlines = false;                // --noinlines: out-of-line functions only.
  std::vector<std::string> symbol_dirs;  // --symbols DIR.
  std::string focus;
  std::string ignore;
  std::string min_age;
};

int RunTop(const TopCommandOptions& o) {
  format::Result<format::Profile> profile = LoadProfileForReport(o.file, o.symbol_dirs, o.lines);
  if (!profile.ok()) return Fail(profile.error());
  std::optional<analyze::SampleFilter> filter = ViewFilter(o.focus, o.ignore, o.min_age);
  if (!filter) return 1;
  format::Result<analyze::FilterStats> filtered = analyze::ApplySampleFilter(&*profile, *filter);
  if (!filtered.ok()) return Fail(filtered.error());
  if (o.noinlines) analyze::DropInlinedFrames(*profile);
  if (o.lines) analyze::UseLinesAsFunctions(*profile);
  analyze::TopOptions options;
  options.sample_type = o.sample_type;
  options.max_rows = o.rows;
  format::Result<analyze::TopReport> report = analyze::ComputeTop(*profile, options);
  if (!report.ok()) {
    std::string source = o.file == "-" ? "standard input" : o.file;
    return Fail(source + ": " + report.error());
  }
  std::string out =
      o.format == "json" ? analyze::FormatTopJson(*report) : analyze::FormatTopText(*report);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return Fail("cannot write the report to standard output");
  }
  return 0;
}

}  // namespace

CommandFn RegisterTopCommand(CLI::App& app) {
  auto o = std::make_shared<TopCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "top", "Show the functions that hold the most memory (like go tool pprof -top)");
  cmd->add_option("--sample", o->sample_type,
                  "Sample type to show, e.g. inuse_space, alloc_objects, or its index "
                  "(default: the profile's default sample type, else its last)");
  cmd->add_option("--focus", o->focus,
                  "Keep only samples with a frame whose function matches this regular expression");
  cmd->add_option("--ignore", o->ignore,
                  "Drop samples with a frame whose function matches this regular expression");
  AddMinAgeOption(*cmd, o->min_age);
  cmd->add_flag("--lines", o->lines,
                "One row per source line (FUNCTION FILE:LINE, from DWARF) instead of per function");
  AddNoInlinesOption(*cmd, o->noinlines);
  AddSymbolsOption(*cmd, o->symbol_dirs);
  cmd->add_option("-n,--rows", o->rows, "How many functions to show (0 shows all)")
      ->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("file", o->file,
                  "A profile.proto file, gzipped or not (\"-\" reads standard input)")
      ->required();
  return [o] { return RunTop(*o); };
}

}  // namespace heapscope::cli
