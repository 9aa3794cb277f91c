// `heapscope leaks [--format text|json] [-n N] [--limit SIZE] [--pid PID] [--html OUT]
// SOURCE...`: which stacks keep growing across a series of heap snapshots
// and of the fd, thread and mmap profiles beside them (leak suspects), told
// apart from bounded caches, temporary peaks and tables built at start. With
// an http(s):// URL it polls a live endpoint (--every, --duration) until
// Ctrl-C. The method is in analyze/trend.h and README.md.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "analyze/leaks.h"
#include "analyze/units.h"
#include "base/parse.h"
#include "cli/commands.h"
#include "format/any_reader.h"
#include "web/web_data.h"

namespace heapscope::cli {
namespace {

struct LeaksCommandOptions {
  std::vector<std::string> sources;
  size_t rows = 10;
  std::string format = "text";
  std::string limit;
  long pid = 0;
  std::string every = "5s";
  std::string duration;
  std::string html;
  std::vector<std::string> symbol_dirs;  // --symbols DIR
};

// The source lines of the stacks of a profile served by a live endpoint,
// from DWARF when its binaries are on this machine.
analyze::FrameSources SourcesOf(const format::ByteBuffer& bytes,
                                const analyze::SymbolizeOptions& options) {
  if (bytes.empty()) return {};
  return analyze::SymbolizedStackSources(
      [&] { return format::ParseAnyProfile(format::ByteBuffer(bytes), "endpoint"); }, options);
}

bool WriteOut(const std::string& out, FILE* f) {
  return std::fwrite(out.data(), 1, out.size(), f) == out.size() && std::fflush(f) == 0;
}

volatile sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

double MonotonicSec() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double RealtimeSec() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Sleeps until `until` (monotonic seconds) or an interrupt.
void SleepUntil(double until) {
  while (!g_interrupted) {
    double left = until - MonotonicSec();
    if (left <= 0) return;
    struct timespec ts;
    ts.tv_sec = static_cast<time_t>(left);
    ts.tv_nsec = static_cast<long>((left - std::floor(left)) * 1e9);
    nanosleep(&ts, nullptr);  // Returns early (EINTR) on SIGINT.
  }
}

// http://HOST:PORT/anything -> http://HOST:PORT
std::string BaseUrl(const std::string& url) {
  size_t slash = url.find('/', url.find("://") + 3);
  return slash == std::string::npos ? url : url.substr(0, slash);
}

std::string SuspectKey(const analyze::LeakSuspect& s) {
  std::string key(analyze::LeakKindName(s.kind));
  for (const auto& f : s.frames) key += "\n" + f;
  return key;
}

// One line naming a suspect: "heap +1.0MB/s  Leaf < Caller < ...".
std::string SuspectLine(const analyze::LeakSuspect& s) {
  std::string rate = s.kind == analyze::LeakKind::kHeap || s.kind == analyze::LeakKind::kMmap
                         ? analyze::Label(static_cast<int64_t>(std::llround(s.growth_per_sec)),
                                          "bytes") + "/s"
                         : [&] {
                             char b[64];
                             std::snprintf(b, sizeof b, "%.2f/s", s.growth_per_sec);
                             return std::string(b);
                           }();
  std::string stack;
  for (size_t i = 0; i < s.frames.size() && i < 4; i++) {
    if (i > 0) stack += " < ";
    stack += s.frames[i];
  }
  if (s.frames.size() > 4) stack += " < ...";
  return std::string(analyze::LeakKindName(s.kind)) + " +" + rate + "  " + stack;
}

// Polls a live endpoint: the heap profile and, when they answer, the fds,
// threadcreate and mmap profiles, every --every. Every poll from the
// min_snapshots-th on re-runs the analysis. A stack is announced as a
// suspect once every analysis since the first that called it growing (at
// watch time t1) still does, over at least two analyses and until at least
// 3 * t1: a cache that fills for F seconds looks like a leak until its flat
// part is most of the window (about 2 F), so the verdict must hold well
// past that. Ends after --duration, on SIGINT/SIGTERM, or when
// the endpoint stops answering, with the full report.
int RunLive(const LeaksCommandOptions& o, analyze::LeakOptions options) {
  if (o.sources.size() != 1) return Fail("give one endpoint URL, not a list, to watch it live");
  double every = 0;
  if (!ParseEveryFlag(o.every, &every)) return 1;
  uint64_t duration_ns = 0;
  if (!o.duration.empty() && (!base::ParseDuration(o.duration.c_str(), &duration_ns) ||
                              duration_ns == 0)) {
    return Fail("--duration wants a duration such as 30s or 10m, got '" + o.duration + "'");
  }
  const double duration = static_cast<double>(duration_ns) / 1e9;
  const std::string base = BaseUrl(o.sources[0]);
  const int fetch_timeout = static_cast<int>(std::max(10.0, 2 * every));

  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);  // No SA_RESTART: sleeps end at once.
  sigaction(SIGTERM, &sa, nullptr);

  const bool json = o.format == "json";
  FILE* early = json ? stderr : stdout;  // Keeps stdout one JSON document.
  const bool tty = isatty(STDERR_FILENO) != 0;
  std::vector<analyze::LeakSnapshot> snaps;
  bool resource_gone[3] = {false, false, false};
  std::set<std::string> announced;
  std::map<std::string, std::pair<double, size_t>> growing_since;  // First time, analyses.
  std::string ended_why;
  int failures_in_a_row = 0;
  // The newest snapshot's profiles as served (heap, then fd, thread, mmap):
  // symbolized for the report's source lines at the end.
  format::ByteBuffer newest_bytes[4];
  const double start = MonotonicSec();
  for (size_t tick = 0;; tick++) {
    if (g_interrupted) {
      ended_why = "interrupted";
      break;
    }
    auto body = format::FetchHttp(base + "/debug/pprof/heap", fetch_timeout);
    format::Result<analyze::LeakSnapshot> snap = format::Error{""};
    format::ByteBuffer heap_bytes;
    if (body.ok()) {
      heap_bytes = *body;  // for the source lines of the report, if this one is the newest
      auto prof = format::ParseAnyProfile(std::move(*body), base + "/debug/pprof/heap");
      snap = prof.ok() ? analyze::SummarizeSnapshot(*prof, base + "/debug/pprof/heap")
                       : format::Result<analyze::LeakSnapshot>(format::Error{prof.error()});
    } else {
      snap = format::Error{body.error()};
    }
    if (!snap.ok()) {
      // The first poll must work; later, a bad answer is skipped (three in
      // a row end the watch).
      if (snaps.empty()) return Fail(snap.error());
      if (g_interrupted) continue;
      if (++failures_in_a_row >= 3) {
        ended_why = "the endpoint stopped answering: " + snap.error();
        break;
      }
      std::fprintf(stderr, "%sheapscope: warning: %s\n", tty ? "\n" : "", snap.error().c_str());
    } else {
      failures_in_a_row = 0;
      if (snap->time_sec <= 0) snap->time_sec = RealtimeSec();
      for (analyze::LeakKind kind : analyze::kResourceKinds) {
        const size_t ri = analyze::ResourceIndex(kind);
        if (resource_gone[ri]) continue;
        std::string url = base + "/debug/pprof/" + std::string(analyze::LeakKindProfileName(kind));
        auto rbody = format::FetchHttp(url, fetch_timeout);
        if (!rbody.ok()) {
          // Not served (another runtime, resources off): stop asking.
          if (rbody.error().find("HTTP 404") != std::string::npos) resource_gone[ri] = true;
          continue;
        }
        format::ByteBuffer bytes = *rbody;
        auto rprof = format::ParseAnyProfile(std::move(*rbody), url);
        if (!rprof.ok()) continue;
        auto res = analyze::SummarizeResource(*rprof, kind, url);
        if (res.ok()) {
          snap->resources[ri] = std::move(*res);
          newest_bytes[ri + 1] = std::move(bytes);
        } else {
          newest_bytes[ri + 1].clear();
        }
      }
      // The service restarted behind the same address (another process, or
      // the same one exec'd in place): its heap started empty, and a
      // series across the two runs would read the restart as memory freed.
      if (!snaps.empty() && !analyze::SameRun(snaps.back().run, snap->run)) {
        std::fprintf(stderr, "%sheapscope: leaks: %s\n", tty ? "\r\033[K" : "",
                     analyze::AnotherRunNote(snap->run).c_str());
        snaps.clear();
        growing_since.clear();
        announced.clear();
      }
      if (!snaps.empty() && snap->time_sec <= snaps.back().time_sec) {
        snap->time_sec = snaps.back().time_sec + 1e-3;
      }
      newest_bytes[0] = std::move(heap_bytes);
      snaps.push_back(std::move(*snap));
    }
    const double elapsed = MonotonicSec() - start;
    size_t suspects = 0;
    // How slow a heap leak the watch can see yet: it falls as the window grows.
    std::string floor;
    if (snaps.size() >= options.trend.min_snapshots) {
      analyze::LeakReport report = analyze::AnalyzeLeaks(snaps, options);
      std::map<std::string, std::pair<double, size_t>> growing_now;
      suspects = report.suspects_total;
      if (report.heap_growth_floor_per_sec > 0) {
        floor = ", heap leaks from ~" +
                analyze::Label(static_cast<int64_t>(std::llround(report.heap_growth_floor_per_sec)),
                               "bytes") +
                "/s visible";
      }
      for (const auto& s : report.suspects) {
        std::string key = SuspectKey(s);
        auto before = growing_since.find(key);
        auto& since = growing_now[key];
        since = before == growing_since.end() ? std::make_pair(elapsed, size_t{1})
                                              : std::make_pair(before->second.first,
                                                               before->second.second + 1);
        if (since.second >= 2 && elapsed >= 3 * since.first && !announced.count(key)) {
          announced.insert(key);
          if (tty && !json) std::fprintf(stderr, "\r\033[K");
          std::fprintf(early, "suspect after %.1fs (%zu snapshots): %s\n", elapsed, snaps.size(),
                       SuspectLine(s).c_str());
          std::fflush(early);
        }
      }
      growing_since = std::move(growing_now);
    }
    std::fprintf(stderr, "%sheapscope: leaks: %zu snapshots, %.1fs elapsed, %zu growing%s%s",
                 tty ? "\r\033[K" : "", snaps.size(), elapsed, suspects, floor.c_str(),
                 tty ? "" : "\n");
    std::fflush(stderr);
    if (duration > 0 && elapsed >= duration) {
      ended_why = "--duration reached";
      break;
    }
    double next = start + static_cast<double>(tick + 1) * every;
    if (duration > 0) next = std::min(next, start + duration);
    SleepUntil(next);
  }
  if (tty) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "heapscope: leaks: stopped (%s) after %zu snapshots\n", ended_why.c_str(),
               snaps.size());
  if (!snaps.empty()) {
    analyze::SymbolizeOptions symbols;
    symbols.symbol_dirs = o.symbol_dirs;
    snaps.back().sources = SourcesOf(newest_bytes[0], symbols);
    for (analyze::LeakKind kind : analyze::kResourceKinds) {
      const size_t ri = analyze::ResourceIndex(kind);
      if (snaps.back().resources[ri].present) {
        snaps.back().resources[ri].sources = SourcesOf(newest_bytes[ri + 1], symbols);
      }
    }
  }
  analyze::LeakReport report = analyze::AnalyzeLeaks(snaps, options);
  std::string out = json ? analyze::FormatLeaksJson(report) : analyze::FormatLeaksText(report);
  if (!WriteOut(out, stdout)) return Fail("cannot write the report to standard output");
  return 0;
}

int RunLeaks(const LeaksCommandOptions& o) {
  analyze::LeakOptions options;
  options.max_suspects = o.rows;
  if (!ParseLimitFlag(o.limit, &options.limit, &options.limit_source)) return 1;
  for (const auto& src : o.sources) {
    if (format::IsHttpUrl(src)) return RunLive(o, options);
  }
  std::vector<std::string> warnings;
  auto snaps = analyze::LoadLeakSnapshots(o.sources, o.pid, &warnings);
  if (!snaps.ok()) return Fail(snaps.error());
  for (const auto& w : warnings) std::fprintf(stderr, "heapscope: warning: %s\n", w.c_str());
  analyze::SymbolizeOptions symbols;
  symbols.symbol_dirs = o.symbol_dirs;
  analyze::AddSourceLines(&*snaps, symbols);
  analyze::LeakReport report = analyze::AnalyzeLeaks(*snaps, options);
  std::string out =
      o.format == "json" ? analyze::FormatLeaksJson(report) : analyze::FormatLeaksText(report);
  if (!WriteOut(out, stdout)) return Fail("cannot write the report to standard output");
  if (!o.html.empty()) {
    web::WebOptions page;
    page.sources = o.sources;
    page.pid = o.pid;
    page.series = true;
    page.symbol_dirs = o.symbol_dirs;
    page.limit = options.limit;
    page.limit_source = options.limit_source;
    return WriteOfflinePage(page, "leaks", o.html);
  }
  return 0;
}

}  // namespace

void PrintRunLeakReport(const std::string& out_dir, long pid, FILE* out) {
  analyze::LeakOptions options;
  options.max_suspects = 5;
  std::vector<std::string> warnings;
  auto snaps = analyze::LoadLeakSnapshots({out_dir}, pid, &warnings);
  if (!snaps.ok()) return;
  // Said even when what is left is too short for trends: an earlier run
  // left out (a restart, an exec in place), snapshots that did not read.
  for (const std::string& w : warnings) fprintf(out, "heapscope: warning: %s\n", w.c_str());
  if (snaps->size() < options.trend.min_snapshots) return;
  analyze::AddSourceLines(&*snaps, analyze::SymbolizeOptions{});
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
  const std::string pid_option = pid != 0 ? "--pid " + std::to_string(pid) + " " : "";
  fprintf(out, "heapscope: details: heapscope leaks %s%s\n", pid_option.c_str(), out_dir.c_str());
  // The same series drawn: one chart per suspect, RSS and its parts.
  fprintf(out, "heapscope: charts: heapscope web %s%s\n", pid_option.c_str(),
          out_dir.c_str());
}

CommandFn RegisterLeaksCommand(CLI::App& app) {
  auto o = std::make_shared<LeaksCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "leaks",
      "Find what keeps growing (heap, fds, threads, mappings) across snapshots or a live "
      "endpoint (leak suspects), told apart from bounded caches, temporary peaks and tables "
      "built at start");
  cmd->footer(
      "SOURCE is a snapshot directory written by the runtime (heap.NNNN.pb.gz in order, then "
      "heap.final.pb.gz; child processes' heap.PID.* files only with --pid), or profile files "
      "in time order; fds/threadcreate/mmap.X.pb.gz beside each heap.X.pb.gz are read too. "
      "An http(s)://HOST:PORT URL is polled live every --every until --duration or Ctrl-C, "
      "which prints the report so far. At least 6 snapshots are needed before anything is "
      "called growing; the profile at exit (heap.final.pb.gz, written after the program's "
      "own teardown) is left out when the snapshots before it are enough. Each kind is "
      "projected to its limit as the runtime recorded it: the heap to --limit or the cgroup's "
      "memory limit (and cgroup v2's memory.high), descriptors to the open-file limit, "
      "threads to the task limit (pids cgroup or machine), mappings to vm.max_map_count. "
      "README.md, "
      "\"Leak trends: how verdicts are reached\", explains the method and the JSON schema.");
  cmd->add_option("-n,--rows", o->rows, "How many suspects to show (0 shows all)")
      ->capture_default_str();
  cmd->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--limit", o->limit,
                  "Memory limit (e.g. 2G) to project the time to; default: the memory limit of "
                  "the profiled process's cgroup, which the runtime records in its profiles");
  cmd->add_option("--pid", o->pid,
                  "In a directory, read the child process PID's heap.PID.* snapshots");
  cmd->add_option("--every", o->every, "Live endpoint: time between polls (e.g. 500ms, 2s, 1m)")
      ->capture_default_str();
  cmd->add_option("--duration", o->duration,
                  "Live endpoint: stop after this long (default: until Ctrl-C)");
  AddSymbolsOption(*cmd, o->symbol_dirs);
  cmd->add_option("--html", o->html,
                  "Also write the leak-trend page (charts, flame graph, top, diff) as one HTML file");
  cmd->add_option("source", o->sources,
                  "Snapshot directory, profile files in time order, or a live endpoint URL")
      ->required();
  return [o] { return RunLeaks(*o); };
}

bool ParseLimitFlag(const std::string& flag, std::optional<int64_t>* limit, std::string* source) {
  if (flag.empty()) return true;
  uint64_t bytes = 0;
  if (!base::ParseSize(flag.c_str(), &bytes) || bytes == 0 ||
      bytes > static_cast<uint64_t>(INT64_MAX)) {
    Fail("--limit wants a size such as 2G or 512MiB, got '" + flag + "'");
    return false;
  }
  *limit = static_cast<int64_t>(bytes);
  *source = "--limit";
  return true;
}

bool ParseEveryFlag(const std::string& flag, double* seconds) {
  uint64_t ns = 0;
  if (!base::ParseDuration(flag.c_str(), &ns) || ns < 100000000ULL) {
    Fail("--every wants a duration of at least 100ms such as 500ms, 2s or 1m, got '" + flag + "'");
    return false;
  }
  *seconds = static_cast<double>(ns) / 1e9;
  return true;
}

}  // namespace heapscope::cli
