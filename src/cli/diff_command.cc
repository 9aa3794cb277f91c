// `heapscope diff [--sample TYPE] [--focus RE] [--ignore RE] [-n N]
// [--format text|json] BASE NEW`: what grew and what shrank, per function
// and per stack, matched by function names.
#include <cstdio>
#include <memory>
#include <string>

#include "analyze/diff.h"
#include "analyze/folded.h"
#include "cli/commands.h"

namespace heapscope::cli {
namespace {

struct DiffCommandOptions {
  std::string base;
  std::string next;
  size_t rows = 20;
  std::string format = "text";
  ViewOptions view;
};

int RunDiff(const DiffCommandOptions& o) {
  if (o.base == "-" && o.next == "-") {
    return Fail("diff: only one of BASE and NEW can be standard input");
  }
  std::optional<format::Profile> base = LoadViewProfile(o.base, o.view);
  if (!base) return 1;
  std::optional<format::Profile> next = LoadViewProfile(o.next, o.view);
  if (!next) return 1;
  format::Result<std::string> type =
      analyze::SelectDiffSampleType(*base, *next, o.view.sample_type);
  if (!type.ok()) {
    return Fail(SourceName(o.base) + " vs " + SourceName(o.next) + ": " + type.error());
  }
  format::Result<analyze::CollapsedStacks> base_stacks = analyze::CollapseStacks(*base, *type);
  if (!base_stacks.ok()) return Fail(SourceName(o.base) + ": " + base_stacks.error());
  format::Result<analyze::CollapsedStacks> next_stacks = analyze::CollapseStacks(*next, *type);
  if (!next_stacks.ok()) return Fail(SourceName(o.next) + ": " + next_stacks.error());
  analyze::DiffReport report = analyze::ComputeDiff(*base_stacks, *next_stacks, o.rows);
  return WriteViewOutput(
      o.format == "json" ? analyze::FormatDiffJson(report) : analyze::FormatDiffText(report), "");
}

}  // namespace

CommandFn RegisterDiffCommand(CLI::App& app) {
  auto o = std::make_shared<DiffCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "diff", "Show what grew and what shrank from BASE to NEW, per function and per stack");
  AddViewOptions(*cmd, o->view);
  cmd->add_option("-n,--rows", o->rows,
                  "How many functions and stacks to show (0 shows all that changed)")
      ->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("base", o->base, "The earlier profile (\"-\" reads standard input)")->required();
  cmd->add_option("new", o->next, "The later profile (\"-\" reads standard input)")->required();
  return [o] { return RunDiff(*o); };
}

}  // namespace heapscope::cli
