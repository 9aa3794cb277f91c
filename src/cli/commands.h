// src/cli: a thin driver. Each command file parses its own flags and calls
// into analyze/ (or, for `run`, starts the program with the runtime
// preloaded). May not call: runtime/.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace heapscope::cli {

// Each Register* adds a subcommand to `app` and returns the function that
// runs it (returning the process exit status) once CLI11 has parsed.
using CommandFn = std::function<int()>;

// Arguments after the first "--" on the command line, kept away from the
// option parser (they belong to the program `heapscope run` starts).
std::vector<std::string>& PassthroughArgs();

CommandFn RegisterRunCommand(CLI::App& app);
CommandFn RegisterTopCommand(CLI::App& app);
CommandFn RegisterDumpCommand(CLI::App& app);
CommandFn RegisterLeaksCommand(CLI::App& app);

// The leak report `heapscope run` appends to its summary (leaks_command.cc);
// prints nothing when the directory has too few snapshots.
void PrintRunLeakReport(const std::string& out_dir, FILE* out);

}  // namespace heapscope::cli
