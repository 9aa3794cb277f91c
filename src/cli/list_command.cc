// `heapscope list [--sample TYPE] [--format text|json] [--symbols DIR] REGEX
// FILE`: annotated source for the functions matching REGEX, like `go tool
// pprof -list`. Also holds LoadProfileForReport, which every report
// command uses to read any input and symbolize it.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "analyze/source_list.h"
#include "analyze/symbolizer.h"
#include "cli/commands.h"
#include "format/any_reader.h"

namespace heapscope::cli {
namespace {

struct ListCommandOptions {
  std::string regex;
  std::string file;
  std::string sample_type;
  std::string format = "text";
  std::vector<std::string> symbol_dirs;
};

// A profile with unnamed frames in files (legacy formats, raw addresses,
// code the runtime found no ELF symbol for) is symbolized even when not
// asked.
bool NeedsSymbols(const format::Profile& p) {
  for (const format::Location& loc : p.locations) {
    if (loc.mapping != format::kNoIndex && loc.line_count == 0) return true;
  }
  return false;
}

int RunList(const ListCommandOptions& o) {
  format::Result<format::Profile> profile = LoadProfileForReport(o.file, o.symbol_dirs, true);
  if (!profile.ok()) return Fail(profile.error());
  analyze::ListOptions options;
  options.regex = o.regex;
  options.sample_type = o.sample_type;
  format::Result<analyze::ListReport> report = analyze::ComputeList(*profile, options);
  if (!report.ok()) {
    std::string source = o.file == "-" ? "standard input" : o.file;
    return Fail(source + ": " + report.error());
  }
  std::string out =
      o.format == "json" ? analyze::FormatListJson(*report) : analyze::FormatListText(*report);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return Fail("cannot write the listing to standard output");
  }
  return 0;
}

}  // namespace

format::Result<format::Profile> LoadProfileForReport(const std::string& input,
                                                     const std::vector<std::string>& symbol_dirs,
                                                     bool want_lines) {
  format::Result<format::Profile> profile = format::ReadAnyProfile(input);
  if (!profile.ok()) return profile;
  if (!want_lines && symbol_dirs.empty() && !NeedsSymbols(*profile)) return profile;
  analyze::SymbolizeOptions options;
  options.symbol_dirs = symbol_dirs;
  format::Result<analyze::SymbolizeStats> stats = analyze::Symbolize(*profile, options);
  if (!stats.ok()) return format::Error{stats.error()};
  for (const std::string& w : stats->warnings) {
    std::fprintf(stderr, "heapscope: warning: %s\n", w.c_str());
  }
  if (const char* v = getenv("HEAPSCOPE_SYMBOL_STATS"); v != nullptr && v[0] == '1') {
    std::fprintf(stderr,
                 "heapscope: symbolized %zu of %zu locations with lines, %zu from the cache, "
                 "%zu binaries opened\n",
                 stats->with_lines, stats->locations, stats->from_cache, stats->binaries_opened);
  }
  return profile;
}

CommandFn RegisterListCommand(CLI::App& app) {
  auto o = std::make_shared<ListCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "list", "Show annotated source of the functions matching REGEX (like go tool pprof -list)");
  cmd->add_option("--sample", o->sample_type,
                  "Sample type to show, e.g. inuse_space, alloc_space (its objects count is "
                  "shown beside it)");
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  AddSymbolsOption(*cmd, o->symbol_dirs);
  cmd->add_option("regex", o->regex, "Regular expression matched against function names")
      ->required();
  cmd->add_option("file", o->file,
                  "A profile: profile.proto, gperftools or jemalloc heap profile, or an "
                  "http:// URL (\"-\" reads standard input)")
      ->required();
  return [o] { return RunList(*o); };
}

}  // namespace heapscope::cli
