// `heapscope flame [--sample TYPE] [--focus RE] [--ignore RE] [--base BASE]
// [--title T] -o OUT.svg|OUT.html FILE`: a self-contained flame graph;
// with --base, a differential one (widths by FILE, red growth, blue shrink).
// An .html output is the page of `heapscope web` (flame graph, top, source,
// diff) with its data inlined.
#include <cstdio>
#include <memory>
#include <string>

#include "analyze/diff.h"
#include "analyze/flame.h"
#include "analyze/folded.h"
#include "cli/commands.h"
#include "web/web_data.h"

namespace heapscope::cli {
namespace {

struct FlameCommandOptions {
  std::string file;
  std::string base;
  std::string output;
  std::string title;
  ViewOptions view;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int RunFlame(const FlameCommandOptions& o) {
  const bool svg = EndsWith(o.output, ".svg");
  const bool html = EndsWith(o.output, ".html") || EndsWith(o.output, ".htm");
  if (!svg && !html) {
    return Fail("flame: -o " + o.output + ": the output name must end in .svg or .html");
  }
  if (o.base == "-" && o.file == "-") {
    return Fail("flame: only one of --base and FILE can be standard input");
  }
  if (html) {
    // The page of `heapscope web`, with its data, as one file.
    web::WebOptions options;
    options.sources = o.base.empty() ? std::vector<std::string>{o.file}
                                     : std::vector<std::string>{o.base, o.file};
    options.sample_type = o.view.sample_type;
    options.noinlines = o.view.noinlines;
    options.symbol_dirs = o.view.symbol_dirs;
    std::optional<analyze::SampleFilter> filter =
        ViewFilter(o.view.focus, o.view.ignore, o.view.min_age);
    if (!filter) return 1;
    options.filter = *filter;
    return WriteOfflinePage(options, o.title, o.output);
  }
  std::optional<format::Profile> next = LoadViewProfile(o.file, o.view);
  if (!next) return 1;
  std::string type = o.view.sample_type;
  std::optional<format::Profile> base;
  if (!o.base.empty()) {
    base = LoadViewProfile(o.base, o.view);
    if (!base) return 1;
    format::Result<std::string> common = analyze::SelectDiffSampleType(*base, *next, type);
    if (!common.ok()) {
      return Fail(SourceName(o.base) + " vs " + SourceName(o.file) + ": " + common.error());
    }
    type = *common;
  }
  format::Result<analyze::CollapsedStacks> stacks = analyze::CollapseStacks(*next, type);
  if (!stacks.ok()) return Fail(SourceName(o.file) + ": " + stacks.error());
  std::optional<analyze::CollapsedStacks> base_stacks;
  if (base) {
    format::Result<analyze::CollapsedStacks> b = analyze::CollapseStacks(*base, type);
    if (!b.ok()) return Fail(SourceName(o.base) + ": " + b.error());
    base_stacks = std::move(*b);
  }
  const analyze::CollapsedStacks* base_ptr = base_stacks ? &*base_stacks : nullptr;
  std::string out = svg ? analyze::RenderFlameSvg(*stacks, base_ptr, o.title)
                        : analyze::RenderFlameHtml(*stacks, base_ptr, o.title);
  return WriteViewOutput(out, o.output);
}

}  // namespace

CommandFn RegisterFlameCommand(CLI::App& app) {
  auto o = std::make_shared<FlameCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "flame", "Write a flame graph (SVG, or the web page with its data as one HTML file)");
  AddViewOptions(*cmd, o->view);
  cmd->add_option("--base", o->base,
                  "An earlier profile: draw a differential flame graph (red grew, blue shrank)");
  cmd->add_option("-o,--output", o->output, "Where to write: a name ending in .svg or .html")
      ->required();
  cmd->add_option("--title", o->title, "The graph's title");
  cmd->add_option("file", o->file,
                  "A profile.proto file, gzipped or not (\"-\" reads standard input)")
      ->required();
  return [o] { return RunFlame(*o); };
}

}  // namespace heapscope::cli
