// `heapscope convert [--symbols DIR] [--no-symbolize] IN -o OUT.pb.gz`: any
// supported input (profile.proto, gperftools or jemalloc heap profiles, a
// live endpoint's URL) to gzipped profile.proto, symbolized with DWARF, for
// `go tool pprof` and the rest of the pprof ecosystem.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "format/any_reader.h"
#include "format/profile_writer.h"

namespace heapscope::cli {
namespace {

struct ConvertCommandOptions {
  std::string input;
  std::string output;
  std::vector<std::string> symbol_dirs;
  bool no_symbolize = false;
};

int RunConvert(const ConvertCommandOptions& o) {
  format::Result<format::Profile> profile =
      o.no_symbolize ? format::ReadAnyProfile(o.input)
                     : LoadProfileForReport(o.input, o.symbol_dirs, true);
  if (!profile.ok()) {
    std::fprintf(stderr, "heapscope: %s\n", profile.error().c_str());
    return 1;
  }
  format::Result<bool> written = format::WriteProfileFile(*profile, o.output);
  if (!written.ok()) {
    std::fprintf(stderr, "heapscope: %s\n", written.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

CommandFn RegisterConvertCommand(CLI::App& app) {
  auto o = std::make_shared<ConvertCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert any supported profile to gzipped profile.proto (go tool pprof reads it)");
  cmd->add_option("-o,--output", o->output, "Output file (\"-\" writes standard output)")
      ->required();
  AddSymbolsOption(*cmd, o->symbol_dirs);
  cmd->add_flag("--no-symbolize", o->no_symbolize,
                "Keep the input's names; add no file:line from DWARF");
  cmd->add_option("input", o->input,
                  "profile.proto, gperftools or jemalloc heap profile, or an http:// URL "
                  "(\"-\" reads standard input)")
      ->required();
  return [o] { return RunConvert(*o); };
}

}  // namespace heapscope::cli
