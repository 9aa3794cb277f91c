#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "cli/commands.h"

namespace heapscope::cli {
std::vector<std::string>& PassthroughArgs() {
  static std::vector<std::string> args;
  return args;
}
}  // namespace heapscope::cli

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    if (std::string(argv[i]) == "--") {
      heapscope::cli::PassthroughArgs().assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }
  CLI::App app{"heapscope: find memory and resource leaks in C and C++ services", "heapscope"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("heapscope ") + HEAPSCOPE_VERSION);
  std::map<CLI::App*, heapscope::cli::CommandFn> commands;
  auto add = [&](heapscope::cli::CommandFn (*reg)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    auto fn = reg(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) commands[subs.back()] = std::move(fn);
  };
  add(heapscope::cli::RegisterRunCommand);
  add(heapscope::cli::RegisterTopCommand);
  add(heapscope::cli::RegisterDumpCommand);
  add(heapscope::cli::RegisterLeaksCommand);
  add(heapscope::cli::RegisterListCommand);
  add(heapscope::cli::RegisterConvertCommand);
  add(heapscope::cli::RegisterTreeCommand);
  add(heapscope::cli::RegisterDiffCommand);
  add(heapscope::cli::RegisterFoldedCommand);
  add(heapscope::cli::RegisterFlameCommand);
  add(heapscope::cli::RegisterWebCommand);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, fn] : commands) {
    if (sub->parsed()) {
      try {
        return fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "heapscope: %s\n", e.what());
        return 1;
      }
    }
  }
  return 2;
}
