// src/platform: Linux behind small interfaces (loaded modules and their
// build IDs, ELF symbol tables, /proc readers). Never allocates through
// malloc: memory comes from base/mmap_arena. May not call: runtime/,
// format/, analyze/.
#pragma once

#include <link.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/mmap_arena.h"
#include "base/spinlock.h"

namespace heapscope::platform {

// One executable segment of a loaded ELF object, as pprof's Mapping wants
// it: [start, limit) in memory, the segment's offset in the file, the file
// path and its GNU build ID (lower-case hex, "" when absent).
struct Module {
  uintptr_t start;
  uintptr_t limit;
  uint64_t file_offset;
  uintptr_t load_bias;  // address - load_bias = ELF virtual address
  const char* path;     // arena-owned, never freed
  const char* build_id;
  bool is_main;  // the executable itself
};

// Every module seen since start, append-only: a module unloaded with
// dlclose stays, so stacks recorded while it was loaded still resolve.
class ModuleTable {
 public:
  static constexpr size_t kMaxModules = 4096;

  // Leaves modules_ alone: the one table lives in static storage (zero
  // already), and value-initializing it wrote all of its 224 KiB, which
  // made them resident (56 page faults at start) for the few dozen
  // modules a program has.
  ModuleTable() {}

  // Reads the current set of loaded objects and appends the new ones.
  // Returns the number added. Takes the loader lock (dl_iterate_phdr).
  size_t Refresh();

  // The module containing addr, searching newest first (an address range
  // reused after dlclose resolves to the newest object). Lock-free.
  const Module* Find(uintptr_t addr) const;

  size_t size() const { return count_.load(std::memory_order_acquire); }
  const Module& at(size_t i) const { return modules_[i]; }

  void LockForFork() { lock_.Lock(); }
  void UnlockAfterFork() { lock_.Unlock(); }
  void ResetLockAfterFork() { lock_.ResetAfterFork(); }

 private:
  static int Callback(struct dl_phdr_info* info, size_t size, void* data);
  bool Known(uintptr_t start, uintptr_t limit, const char* path) const;

  base::SpinLock lock_;
  base::MmapArena arena_{64 * 1024};
  Module modules_[kMaxModules];
  std::atomic<size_t> count_{0};
};

// The path of the running executable (readlink /proc/self/exe) into buf.
size_t ExecutablePath(char* buf, size_t cap);

// The base name of the running program (from /proc/self/comm or argv[0]).
size_t ProgramName(char* buf, size_t cap);

}  // namespace heapscope::platform
