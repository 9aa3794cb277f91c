// `heapscope dump PID`: asks a running process to write a heap snapshot now,
// with the runtime's dump signal (HEAPSCOPE_DUMP_SIGNAL, SIGRTMIN+7 unless
// the process was started with another).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>

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

std::string WhyRuntimeNotLoaded(long pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  // The loader's own view: AT_BASE is where it was mapped (0: none ran, a
  // static program), AT_SECURE set when it ran in secure-execution mode.
  std::ifstream auxv(proc + "/auxv", std::ios::binary);
  uint64_t entry[2];
  bool read_any = false, secure = false, has_base = false;
  uint64_t base = 0;
  while (auxv.read(reinterpret_cast<char*>(entry), sizeof entry)) {
    read_any = true;
    if (entry[0] == AT_SECURE) secure = entry[1] != 0;
    if (entry[0] == AT_BASE) {
      has_base = true;
      base = entry[1];
    }
  }
  if (read_any && (!has_base || base == 0)) {
    return "a static program, where no dynamic loader runs to load the runtime";
  }
  if (secure) {
    return "it runs in secure-execution mode (set-user-ID, set-group-ID or file capabilities), "
           "where the loader ignores LD_PRELOAD";
  }
  std::ifstream exe(proc + "/exe", std::ios::binary);
  char ident[5] = {};
  if (exe.read(ident, sizeof ident) &&
      memcmp(ident,
             "\x7f"
             "ELF",
             4) == 0 &&
      ident[4] == 1) {
    return "a 32-bit program, which a 64-bit runtime cannot be loaded into";
  }
  std::ifstream environ(proc + "/environ", std::ios::binary);
  std::string var;
  bool preload = false;
  while (std::getline(environ, var, '\0')) {
    if (var.rfind("LD_PRELOAD=", 0) == 0 && var.find("libheapscope.so") != std::string::npos) {
      preload = true;
    }
  }
  if (read_any && !preload) {
    return "it was started without the runtime in LD_PRELOAD (its parent cleared or replaced the "
           "environment)";
  }
  return "a static program, or one started without LD_PRELOAD in its environment";
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
    std::fprintf(stderr, "heapscope: dump: process %s does not run with libheapscope.so: %s\n",
                 o.pid.c_str(), WhyRuntimeNotLoaded(static_cast<long>(pid)).c_str());
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
