// `heapscope web [--port P] [--open] [--every D] [--limit SIZE] [--noinlines]
// SOURCE...`:
// serves the page (flame graph, top, source, diff, leak trends) on
// 127.0.0.1. SOURCE is a profile, two profiles to compare, a snapshot
// directory (or profiles in time order), or a live endpoint URL polled
// every D. Also WriteOfflinePage, the one-file form of the same page that
// `heapscope flame -o X.html` and `heapscope leaks --html X.html` write.
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/parse.h"
#include "cli/commands.h"
#include "web/page.h"
#include "web/server.h"
#include "web/web_data.h"

extern char** environ;

namespace heapscope::cli {
namespace {

struct WebCommandOptions {
  std::vector<std::string> sources;
  int port = 0;
  bool open = false;
  std::string every = "2s";
  std::string limit;
  long pid = 0;
  std::string sample_type;
  bool noinlines = false;
  std::vector<std::string> symbol_dirs;
};

void OpenBrowser(const std::string& url) {
  pid_t pid = 0;
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0) {
    std::fprintf(stderr, "heapscope: warning: cannot start xdg-open; open %s yourself\n",
                 url.c_str());
  }
}

int RunWeb(const WebCommandOptions& o) {
  web::WebOptions options;
  options.sources = o.sources;
  options.pid = o.pid;
  options.sample_type = o.sample_type;
  options.noinlines = o.noinlines;
  options.symbol_dirs = o.symbol_dirs;
  if (!ParseEveryFlag(o.every, &options.every_sec)) return 1;
  if (!ParseLimitFlag(o.limit, &options.limit, &options.limit_source)) return 1;
  if (o.port < 0 || o.port > 65535) return Fail("--port wants 0..65535");
  auto data = web::WebData::Open(options);
  if (!data.ok()) return Fail(data.error());
  for (const std::string& w : (*data)->warnings()) {
    std::fprintf(stderr, "heapscope: warning: %s\n", w.c_str());
  }
  web::ServeOptions serve;
  serve.port = o.port;
  serve.on_listening = [&](const std::string& url) {
    std::printf("heapscope: serving %s on %s (Ctrl-C stops)\n", o.sources[0].c_str(),
                url.c_str());
    std::fflush(stdout);
    if (o.open) OpenBrowser(url);
  };
  std::string error;
  int status = web::Serve(**data, serve, &error);
  if (status != 0) return Fail(error);
  return 0;
}

}  // namespace

int WriteOfflinePage(const web::WebOptions& options, const std::string& title,
                     const std::string& path) {
  auto data = web::WebData::Open(options);
  if (!data.ok()) return Fail(data.error());
  for (const std::string& w : (*data)->warnings()) {
    std::fprintf(stderr, "heapscope: warning: %s\n", w.c_str());
  }
  return WriteViewOutput(web::OfflinePage((*data)->OfflineData(), title), path);
}

CommandFn RegisterWebCommand(CLI::App& app) {
  auto o = std::make_shared<WebCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "web", "Serve a page with the flame graph, top table, source, diff and leak trends");
  cmd->footer(
      "SOURCE is a profile; two profiles (the page compares them, older first); a snapshot "
      "directory written by the runtime, or profiles in time order (leak trends); or the "
      "http:// URL of a live endpoint, polled every --every. The page is served on 127.0.0.1 "
      "only and loads nothing from elsewhere.");
  cmd->add_option("--port", o->port, "Port on 127.0.0.1 (0: any free port)")->capture_default_str();
  cmd->add_flag("--open", o->open, "Open the page in the default browser (xdg-open)");
  cmd->add_option("--every", o->every, "How often to poll a live endpoint")->capture_default_str();
  cmd->add_option("--limit", o->limit,
                  "Memory limit (e.g. 2G) to project the time to; default: the memory limit of "
                  "the profiled process's cgroup, which the runtime records in its profiles");
  cmd->add_option("--pid", o->pid, "In a directory, read the child process PID's snapshots");
  cmd->add_option("--sample", o->sample_type, "Sample type shown first, e.g. alloc_space");
  AddNoInlinesOption(*cmd, o->noinlines);
  AddSymbolsOption(*cmd, o->symbol_dirs);
  cmd->add_option("source", o->sources, "Profile(s), snapshot directory or live endpoint URL")
      ->required();
  return [o] { return RunWeb(*o); };
}

}  // namespace heapscope::cli
