// Symbolization from DWARF (elfutils libdw): adds file:line and inlined
// frames to the locations of a profile, after the fact, from the binaries
// its mappings name.
//
// For each mapping with a file name the binary is looked for, in order:
//   1. the mapping's own path, if its GNU build ID matches the profile's (or
//      the profile records none);
//   2. in every --symbols directory: DIR/.build-id/xx/rest.debug (and
//      without .debug), DIR/<file name>, then files of that name below DIR,
//      each only if its build ID matches;
//   3. /usr/lib/debug/.build-id/xx/rest.debug.
// A binary without DWARF gets its separate debug file by build ID (or
// .gnu_debuglink) from /usr/lib/debug and the --symbols directories.
//
// An address is converted as: file offset = address - memory_start +
// file_offset, then to the ELF virtual address through the PT_LOAD segment
// that holds that offset. Each location gets one Line per frame of its
// inline chain, innermost first (pprof's convention), C++ names demangled
// (name) beside their mangled form (system_name). Addresses without DWARF
// keep the names they had, else take the ELF symbol, else stay unnamed
// (reports show them as module+offset); nothing is ever dropped.
//
// Results are cached per build ID and file offset in
// $XDG_CACHE_HOME/heapscope/symbols (default ~/.cache/heapscope/symbols),
// one text file per build ID, so a second run opens no binary at all.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze {

struct SymbolizeOptions {
  std::vector<std::string> symbol_dirs;  // --symbols DIR, in order.
  // Where separate debug files live by build ID; tests point it elsewhere.
  std::vector<std::string> debug_roots = {"/usr/lib/debug"};
  std::string cache_dir;  // "" for DefaultSymbolCacheDir().
  bool use_cache = true;
};

struct SymbolizeStats {
  size_t locations = 0;               // Locations whose mapping names a file.
  size_t with_lines = 0;              // Of those, given a source line.
  size_t from_cache = 0;              // Answered from the cache.
  size_t binaries_opened = 0;         // ELF files opened with libdw.
  std::vector<std::string> warnings;  // One line each: binaries not found, build ID mismatches.
};

// Adds DWARF frames to `profile` in place. Fails only on a profile the
// symbolizer cannot work on at all; missing binaries are warnings.
format::Result<SymbolizeStats> Symbolize(format::Profile& profile, const SymbolizeOptions& options);

// $XDG_CACHE_HOME/heapscope/symbols, else $HOME/.cache/heapscope/symbols,
// else "" (no cache).
std::string DefaultSymbolCacheDir();

// The GNU build ID of the ELF file at `path` as lowercase hex, "" if it has
// none or is not an ELF file.
std::string ReadBuildId(const std::string& path);

// Keeps of each location only the function the code was inlined into (the
// last Line of its chain): pprof's -noinlines, which gives what inlined
// helpers (container internals, say) hold to their first out-of-line
// caller.
void DropInlinedFrames(format::Profile& profile);

// Rewrites every Line to name a function "NAME FILE:LINE" (pprof's -lines
// granularity), so reports group rows by source line instead of function.
// Lines without a line number keep their function.
void UseLinesAsFunctions(format::Profile& profile);

}  // namespace heapscope::analyze
