// heapscope-demo: a small service with real leaks to point heapscope at.
//
//   heapscope-demo [--duration SECONDS] [--workers N] [--quiet]
//
// Runs for --duration seconds (default 20), then stops the workers and
// returns from main. The leaked structures stay leaked and the parked
// watchdog threads stay parked: that is the point. README.md lists what
// leaks and what only looks like it.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "audit_log.h"
#include "service.h"
#include "session_cache.h"
#include "watchdog.h"

namespace {

struct DemoOptions {
  double duration_seconds = 20;
  int workers = 4;
  bool quiet = false;
};

volatile std::sig_atomic_t stop_signal = 0;

void OnStopSignal(int signal_number) { stop_signal = signal_number; }

void PrintUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: heapscope-demo [--duration SECONDS] [--workers N] [--quiet]\n"
               "  --duration SECONDS  how long to serve requests (default 20)\n"
               "  --workers N         worker threads sharing ~2000 req/s (default 4)\n"
               "  --quiet             print nothing\n");
}

// Accepts "--flag value" and "--flag=value". Returns nullopt after printing
// a message if the command line is not usable.
std::optional<DemoOptions> ParseFlags(int argc, char** argv) {
  DemoOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take_value = [&]() -> std::optional<std::string> {
      if (has_value) return std::string(value);
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg == "--help" || arg == "-h") {
      PrintUsage(stdout);
      std::exit(0);
    } else if (arg == "--duration" || arg == "--workers") {
      const std::optional<std::string> text = take_value();
      if (!text) {
        std::fprintf(stderr, "heapscope-demo: %s needs a value\n", std::string(arg).c_str());
        return std::nullopt;
      }
      char* end = nullptr;
      if (arg == "--duration") {
        options.duration_seconds = std::strtod(text->c_str(), &end);
        if (end == text->c_str() || *end != '\0' || !(options.duration_seconds > 0)) {
          std::fprintf(stderr, "heapscope-demo: --duration wants seconds > 0, got '%s'\n",
                       text->c_str());
          return std::nullopt;
        }
      } else {
        const long workers = std::strtol(text->c_str(), &end, 10);
        if (end == text->c_str() || *end != '\0' || workers < 1 || workers > 64) {
          std::fprintf(stderr, "heapscope-demo: --workers wants 1..64, got '%s'\n", text->c_str());
          return std::nullopt;
        }
        options.workers = static_cast<int>(workers);
      }
    } else {
      std::fprintf(stderr, "heapscope-demo: unknown argument '%s'\n", argv[i]);
      PrintUsage(stderr);
      return std::nullopt;
    }
  }
  return options;
}

void InstallStopHandlers() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<DemoOptions> options = ParseFlags(argc, argv);
  if (!options) return 2;
  InstallStopHandlers();

  demo::ServiceOptions service_options;
  service_options.workers = options->workers;
  demo::AuditLog::Instance();  // Creates the audit directory before the first request.
  demo::Service service(service_options);

  if (!options->quiet) {
    std::printf(
        "heapscope-demo: pid %d serving ~%.0f req/s on %d workers for %g s; leaks in "
        "SessionCache::Remember, EventBus::Subscribe, AuditLog::OpenForPath, SpawnWatchdog\n",
        static_cast<int>(getpid()), service_options.requests_per_second, options->workers,
        options->duration_seconds);
    std::fflush(stdout);
  }

  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(options->duration_seconds));
  service.Start();
  while (stop_signal == 0 && std::chrono::steady_clock::now() < deadline) {
    const auto step = std::min<std::chrono::steady_clock::duration>(
        deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(50));
    std::this_thread::sleep_for(step);
  }
  service.Stop();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // The leaked sessions, listeners, descriptors and parked threads are left
  // exactly as they are; only the audit files are unlinked so the temp
  // directory is not littered (their descriptors stay open until exit).
  demo::AuditLog::Instance().RemoveFiles();

  if (!options->quiet) {
    std::printf(
        "heapscope-demo: served %llu requests in %.1f s (leaked: %zu sessions, %zu audit fds, "
        "%zu parked watchdogs)\n",
        static_cast<unsigned long long>(service.requests_served()), elapsed,
        demo::SessionCache::Instance().size(), demo::AuditLog::Instance().open_files(),
        demo::WatchdogCount());
  }
  return 0;
}
