// src/cli: a thin driver. Each command file parses its own flags and calls
// into analyze/ (or, for `run`, starts the program with the runtime
// preloaded). May not call: runtime/.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analyze/filter.h"
#include "format/profile.h"

namespace heapscope::web {
struct WebOptions;
}

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
CommandFn RegisterListCommand(CLI::App& app);
CommandFn RegisterConvertCommand(CLI::App& app);
CommandFn RegisterTreeCommand(CLI::App& app);
CommandFn RegisterDiffCommand(CLI::App& app);
CommandFn RegisterFoldedCommand(CLI::App& app);
CommandFn RegisterFlameCommand(CLI::App& app);
CommandFn RegisterWebCommand(CLI::App& app);

// What the analyzer views (tree, diff, folded, flame, and top's filters)
// share; defined in folded_command.cc.
struct ViewOptions {
  std::string sample_type;
  std::string focus;
  std::string ignore;
  std::string min_age;  // --min-age DURATION; "" for none.
  bool noinlines = false;  // --noinlines: inlined frames given to their out-of-line caller.
  std::vector<std::string> symbol_dirs;  // --symbols DIR, repeatable.
};
// Adds --sample, --focus, --ignore, --min-age, --noinlines and --symbols.
void AddViewOptions(CLI::App& cmd, ViewOptions& o);
// Adds --symbols DIR (repeatable): where to look for binaries and debug
// files that are not where the profile's mappings say.
void AddSymbolsOption(CLI::App& cmd, std::vector<std::string>& symbol_dirs);
// Adds --min-age to a command.
void AddMinAgeOption(CLI::App& cmd, std::string& min_age);
// Adds --noinlines to a command.
void AddNoInlinesOption(CLI::App& cmd, bool& noinlines);
// The sample filter for these options; on a bad --min-age prints one
// "heapscope: ..." line and returns nothing.
std::optional<analyze::SampleFilter> ViewFilter(const std::string& focus,
                                                const std::string& ignore,
                                                const std::string& min_age);
// Reads a profile and applies --focus/--ignore; on failure prints one
// "heapscope: ..." line and returns nothing.
std::optional<format::Profile> LoadViewProfile(const std::string& file, const ViewOptions& o);
// "heapscope: MESSAGE" on stderr; returns the exit status 1.
int Fail(const std::string& message);
// Writes `text` to `path` ("" or "-": standard output); 0, or Fail's 1.
int WriteViewOutput(const std::string& text, const std::string& path);
// --limit SIZE (leaks, web): sets *limit (bytes) and *source ("--limit")
// unless the flag is empty; a size that does not parse, or 0, prints one
// "heapscope: ..." line and returns false.
bool ParseLimitFlag(const std::string& flag, std::optional<int64_t>* limit, std::string* source);
// --every D (leaks, web: the time between polls of a live endpoint) in
// seconds; shorter than 100ms, or not a duration, prints one line and
// returns false.
bool ParseEveryFlag(const std::string& flag, double* seconds);
// "standard input" for "-", else the path: how messages name a source.
std::string SourceName(const std::string& file);

// The page of `heapscope web` as one self-contained file for `options`
// (web_command.cc); 0, or 1 after printing one "heapscope: ..." line.
int WriteOfflinePage(const web::WebOptions& options, const std::string& title,
                     const std::string& path);

// Whether process pid has libheapscope.so mapped (dump_command.cc), read
// through any of its threads: a main thread that has ended (pthread_exit)
// shows no mappings. Nothing when no thread's mappings can be read (no
// such process, no permission, a zombie).
std::optional<bool> RuntimeLoaded(long pid);

// Why the runtime is not loaded in process pid, as far as its auxiliary
// vector, environment and executable tell (dump_command.cc): "a static
// program: ...", "it runs in secure-execution mode ...", ... One clause,
// no final period.
std::string WhyRuntimeNotLoaded(long pid);

// The leak report `heapscope run` appends to its summary (leaks_command.cc);
// prints nothing when the directory has too few snapshots. pid != 0: the
// snapshots of that process (heap.PID.*) rather than the one started.
void PrintRunLeakReport(const std::string& out_dir, long pid, FILE* out);

// Reads any supported input (format/any_reader.h) and, when `want_lines`,
// --symbols directories are given or some location has no name, symbolizes
// it from DWARF (analyze/symbolizer.h); symbolizer warnings go to stderr.
// HEAPSCOPE_SYMBOL_STATS=1 prints what the symbolizer did (list_command.cc).
format::Result<format::Profile> LoadProfileForReport(const std::string& input,
                                                     const std::vector<std::string>& symbol_dirs,
                                                     bool want_lines);

}  // namespace heapscope::cli
