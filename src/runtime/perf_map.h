// Names for code that belongs to no loaded file: what a JIT compiled. By
// perf's convention a JIT lists its code in /tmp/perf-PID.map, a line per
// piece of code: "START SIZE NAME", START and SIZE in hex (with or without
// 0x). The JVM writes it with -XX:+UnlockDiagnosticVMOptions
// -XX:+DumpPerfMapAtExit (at exit, before the runtime's final profile),
// Node.js with --perf-basic-prof (as it compiles), LuaJIT and others
// through their perf support.
//
// Not thread-safe: each symbol cache owns one. Memory comes from mmap.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "base/mmap_arena.h"

namespace heapscope::runtime {

class PerfMap {
 public:
  // Reads what was appended to the file since the last call (the file is
  // written append-only; a new file, or a shorter one, is read afresh).
  // A missing file is no error: the program has no JIT, or it writes no
  // map. Only a regular file owned by the process's user or root is read,
  // never through a link.
  void Refresh(const char* path);

  // The name of the newest entry holding pc; nullptr when none does.
  const char* Find(uintptr_t pc);

  size_t size() const { return count_; }
  // Lines that were not "START SIZE NAME", and entries beyond kMaxEntries.
  size_t skipped() const { return skipped_; }

  static constexpr size_t kMaxEntries = size_t{1} << 21;

 private:
  struct Entry {
    uintptr_t start;
    uintptr_t end;
    const char* name;
    uint64_t seq;  // line order: a later entry for the same code wins
  };

  void Reset();
  void ParseLine(const char* line, size_t n);
  void Sort();

  base::MmapArena names_{1 << 20};
  base::MmapBuffer entries_;
  size_t count_ = 0;
  size_t sorted_count_ = 0;  // entries up to here are sorted by start
  size_t skipped_ = 0;
  uint64_t consumed_ = 0;    // bytes of the file read, up to a line's end
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace heapscope::runtime
