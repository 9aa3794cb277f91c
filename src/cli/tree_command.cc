// `heapscope tree [--sample TYPE] [--focus RE] [--ignore RE] [-n N]
// [--format text|json] FILE`: callers and callees of the heaviest
// functions, like `go tool pprof -peek`.
#include <cstdio>
#include <memory>
#include <string>

#include "analyze/folded.h"
#include "analyze/tree.h"
#include "cli/commands.h"

namespace heapscope::cli {
namespace {

struct TreeCommandOptions {
  std::string file;
  size_t rows = 10;
  std::string format = "text";
  ViewOptions view;
};

int RunTree(const TreeCommandOptions& o) {
  std::optional<format::Profile> profile = LoadViewProfile(o.file, o.view);
  if (!profile) return 1;
  format::Result<analyze::CollapsedStacks> stacks =
      analyze::CollapseStacks(*profile, o.view.sample_type);
  if (!stacks.ok()) return Fail(SourceName(o.file) + ": " + stacks.error());
  analyze::TreeReport report = analyze::ComputeTree(*stacks, o.rows);
  return WriteViewOutput(
      o.format == "json" ? analyze::FormatTreeJson(report) : analyze::FormatTreeText(report), "");
}

}  // namespace

CommandFn RegisterTreeCommand(CLI::App& app) {
  auto o = std::make_shared<TreeCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tree", "Show callers and callees of the heaviest functions (like go tool pprof -peek)");
  AddViewOptions(*cmd, o->view);
  cmd->add_option("-n,--rows", o->rows, "How many functions to show, by cum (0 shows all)")
      ->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("file", o->file,
                  "A profile.proto file, gzipped or not (\"-\" reads standard input)")
      ->required();
  return [o] { return RunTree(*o); };
}

}  // namespace heapscope::cli
