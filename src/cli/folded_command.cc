// `heapscope folded [--sample TYPE] [--focus RE] [--ignore RE] [-o FILE]
// FILE`: collapsed stacks, "root;...;leaf value" per line, for
// flamegraph.pl, speedscope and friends. Also the helpers every analyzer
// view shares (commands.h: ViewOptions).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "analyze/filter.h"
#include "analyze/folded.h"
#include "analyze/symbolizer.h"
#include "base/parse.h"
#include "cli/commands.h"
#include "format/profile_reader.h"

namespace heapscope::cli {

void AddViewOptions(CLI::App& cmd, ViewOptions& o) {
  cmd.add_option("--sample", o.sample_type,
                 "Sample type to show, e.g. inuse_space, alloc_objects, or its index "
                 "(default: the profile's default sample type, else its last)");
  cmd.add_option("--focus", o.focus,
                 "Keep only samples with a frame whose function matches this regular expression");
  cmd.add_option("--ignore", o.ignore,
                 "Drop samples with a frame whose function matches this regular expression");
  AddMinAgeOption(cmd, o.min_age);
  AddNoInlinesOption(cmd, o.noinlines);
  AddSymbolsOption(cmd, o.symbol_dirs);
}

void AddSymbolsOption(CLI::App& cmd, std::vector<std::string>& symbol_dirs) {
  cmd.add_option("--symbols", symbol_dirs,
                 "Directory to look for binaries and debug files in (repeatable)");
}

void AddNoInlinesOption(CLI::App& cmd, bool& noinlines) {
  cmd.add_flag("--noinlines", noinlines,
               "Give what inlined functions hold to their first out-of-line caller (like "
               "go tool pprof -noinlines)");
}

void AddMinAgeOption(CLI::App& cmd, std::string& min_age) {
  cmd.add_option("--min-age", min_age,
                 "Keep only in-use objects at least this old (e.g. 10m, 1h; the runtime's age "
                 "buckets start at 0, 1, 2, 3, 4, 6, 8, 12, ... s), like pprof's "
                 "-tagfocus=age=D:");
}

std::optional<analyze::SampleFilter> ViewFilter(const std::string& focus,
                                                const std::string& ignore,
                                                const std::string& min_age) {
  analyze::SampleFilter f{focus, ignore};
  if (!min_age.empty()) {
    uint64_t ns = 0;
    if (!base::ParseDuration(min_age.c_str(), &ns)) {
      Fail("--min-age \"" + min_age + "\" is not a duration (e.g. 30s, 10m, 1h)");
      return std::nullopt;
    }
    f.min_age_sec = static_cast<double>(ns) / 1e9;
  }
  return f;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "heapscope: %s\n", message.c_str());
  return 1;
}

std::string SourceName(const std::string& file) { return file == "-" ? "standard input" : file; }

std::optional<format::Profile> LoadViewProfile(const std::string& file, const ViewOptions& o) {
  // Any input a report takes: profile.proto, legacy heap text, a live URL;
  // names from DWARF where the profile lacks them (or all of it, given
  // --symbols).
  format::Result<format::Profile> profile = LoadProfileForReport(file, o.symbol_dirs, false);
  if (!profile.ok()) {
    Fail(profile.error());
    return std::nullopt;
  }
  std::optional<analyze::SampleFilter> filter = ViewFilter(o.focus, o.ignore, o.min_age);
  if (!filter) return std::nullopt;
  format::Result<analyze::FilterStats> filtered = analyze::ApplySampleFilter(&*profile, *filter);
  if (!filtered.ok()) {
    Fail(filtered.error());
    return std::nullopt;
  }
  if (o.noinlines) analyze::DropInlinedFrames(*profile);
  return std::move(*profile);
}

int WriteViewOutput(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
      return Fail("cannot write to standard output");
    }
    return 0;
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Fail("cannot create " + path + ": " + std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  int saved = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) return Fail("cannot write " + path + ": " + std::strerror(saved));
  return 0;
}

namespace {

struct FoldedCommandOptions {
  std::string file;
  std::string output;
  ViewOptions view;
};

int RunFolded(const FoldedCommandOptions& o) {
  std::optional<format::Profile> profile = LoadViewProfile(o.file, o.view);
  if (!profile) return 1;
  format::Result<analyze::CollapsedStacks> stacks =
      analyze::CollapseStacks(*profile, o.view.sample_type);
  if (!stacks.ok()) return Fail(SourceName(o.file) + ": " + stacks.error());
  for (const std::string& w : stacks->warnings) {
    std::fprintf(stderr, "heapscope: warning: %s\n", w.c_str());
  }
  return WriteViewOutput(analyze::FormatFolded(*stacks), o.output);
}

}  // namespace

CommandFn RegisterFoldedCommand(CLI::App& app) {
  auto o = std::make_shared<FoldedCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "folded", "Print collapsed stacks (\"root;...;leaf value\") for flame graph tools");
  AddViewOptions(*cmd, o->view);
  cmd->add_option("-o,--output", o->output, "Write to this file instead of standard output");
  cmd->add_option("file", o->file,
                  "A profile.proto file, gzipped or not (\"-\" reads standard input)")
      ->required();
  return [o] { return RunFolded(*o); };
}

}  // namespace heapscope::cli
