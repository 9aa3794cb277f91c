// `heapscope dump PID`: asks a running process to write a heap snapshot now,
// with the runtime's dump signal (HEAPSCOPE_DUMP_SIGNAL, SIGRTMIN+7 unless
// the process was started with another).
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "base/parse.h"
#include "cli/commands.h"

namespace heapscope::cli {
namespace {

struct DumpOptions {
  std::string pid;
  std::string signal;
};

// The dump signal the process was started with, from its environment, as
// the runtime reads it; 0 when the runtime will not answer one (switched
// off, or recording disabled so no handler is installed).
int SignalOf(const std::string& pid) {
  std::ifstream env("/proc/" + pid + "/environ", std::ios::binary);
  std::string entry;
  int sig = SIGRTMIN + 7;
  while (std::getline(env, entry, '\0')) {
    auto value = [&](const char* key) -> const char* {
      size_t n = strlen(key);
      return entry.compare(0, n, key) == 0 ? entry.c_str() + n : nullptr;
    };
    if (const char* v = value("HEAPSCOPE_DUMP_SIGNAL=")) {
      int s;
      if (*v != '\0' && base::ParseSignal(v, &s)) sig = s;  // the runtime ignores bad values
    } else if (const char* v = value("HEAPSCOPE_ENABLED=")) {
      std::string e(v);
      if (e == "0" || e == "false" || e == "no" || e == "off") return 0;
    }
  }
  return sig;
}

}  // namespace

std::optional<bool> RuntimeLoaded(long pid) {
  std::error_code ec;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : std::filesystem::directory_iterator(task, ec)) {
    std::ifstream maps(t.path() / "maps");
    std::string line;
    bool any = false;
    while (std::getline(maps, line)) {
      any = true;
      // (" (deleted)" follows the path of a library replaced since.)
      if (line.find("/libheapscope.so") != std::string::npos) return true;
    }
    if (any) return false;
  }
  return std::nullopt;
}

namespace {

int Dump(const DumpOptions& o) {
  uint64_t pid;
  if (!base::ParseUint(o.pid.c_str(), &pid) || pid == 0 || pid > INT32_MAX) {
    std::fprintf(stderr, "heapscope: dump: %s is not a process id\n", o.pid.c_str());
    return 2;
  }
  // The signal would kill a process that does not have the runtime loaded.
  std::optional<bool> loaded = RuntimeLoaded(static_cast<long>(pid));
  if (!loaded) {
    std::fprintf(stderr, "heapscope: dump: no process %s (or no permission to inspect it)\n",
                 o.pid.c_str());
    return 1;
  }
  if (!*loaded) {
    std::fprintf(stderr, "heapscope: dump: process %s does not run with libheapscope.so\n",
                 o.pid.c_str());
    return 1;
  }
  int sig = SignalOf(o.pid);
  if (sig <= 0) {
    std::fprintf(stderr,
                 "heapscope: dump: process %s has its dump signal switched off "
                 "(HEAPSCOPE_DUMP_SIGNAL=0 or HEAPSCOPE_ENABLED=0)\n",
                 o.pid.c_str());
    return 1;
  }
  if (kill(static_cast<pid_t>(pid), sig) != 0) {
    std::fprintf(stderr, "heapscope: dump: cannot signal process %s: %s\n", o.pid.c_str(),
                 strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "heapscope: asked process %s for a snapshot (signal %d)\n", o.pid.c_str(),
               sig);
  return 0;
}

}  // namespace

CommandFn RegisterDumpCommand(CLI::App& app) {
  auto* o = new DumpOptions();
  auto* cmd = app.add_subcommand("dump", "Ask a running profiled process for a snapshot now");
  cmd->add_option("pid", o->pid, "Process id")->required();
  return [o] { return Dump(*o); };
}

}  // namespace heapscope::cli
