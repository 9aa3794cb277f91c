// Naming addresses inside the profiled process: the ELF symbol tables of
// each loaded module (or, for a stripped library, its separate debug file
// by build ID), loaded on first use into mmap'ed memory and kept, and the
// JIT's perf map. Allocates nothing through malloc but __cxa_demangle's
// block (freed at once, under the caller's recursion guard). Used by the
// profile writer, the HTTP handlers and the thread stack dump.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <atomic>
#include <new>

#include "base/mmap_arena.h"
#include "base/spinlock.h"
#include "platform/elf_symbols.h"
#include "platform/modules.h"
#include "runtime/perf_map.h"

namespace heapscope::runtime {

// Symbol tables per module, loaded once and kept (modules never change on
// disk while the process runs, and unloaded ones must stay nameable). A
// cache is used by one thread at a time, except that LoadAllSymbols may
// load tables into it from another: loading is under load_lock, and a
// table is read only once its state says it is there.
class SymbolCache {
 public:
  // Writes none of the per-module tables but `state`: a module's
  // ElfSymbols is made when its symbols are first asked for (SymbolsFor).
  // Made up front, the 4096 of them wrote 96 KiB, resident from then on in
  // every process that wrote a profile.
  SymbolCache() {}
  // The symbols of module i; made (under load_lock) before state[i] says
  // anything.
  platform::ElfSymbols* symbols(size_t i) {
    return std::launder(reinterpret_cast<platform::ElfSymbols*>(symbol_storage_) + i);
  }

  base::MmapArena arena{1 << 20};
  // 0 unknown, 1 loaded, 2 none
  std::atomic<uint8_t> state[platform::ModuleTable::kMaxModules];
  base::SpinLock load_lock;
  PerfMap perf_map;  // names for JIT code (outside every module); its user's only

 private:
  alignas(platform::ElfSymbols) unsigned char symbol_storage_[sizeof(platform::ElfSymbols) *
                                                              platform::ModuleTable::kMaxModules];
};

// A new cache, in its own pages (nullptr when they cannot be mapped). Not
// thread-safe: each thread that writes profiles concurrently with the dump
// thread (the HTTP server) keeps its own. Lives for the life of the process.
SymbolCache* NewSymbolCache();

// The dump thread's cache, made on first use.
SymbolCache* DefaultSymbols();

// The symbols of module `module_index` of Modules(), loaded on first use;
// nullptr when it has none.
platform::ElfSymbols* SymbolsFor(SymbolCache* cache, size_t module_index);

// The symbol's name, demangled to pprof's short form ("std::vector::
// push_back"), kept in the cache's arena; the name itself when it is not
// a C++ symbol or does not demangle.
const char* Demangled(SymbolCache* cache, platform::ElfSymbols::Symbol* s);

// The symbol containing pc (a call site, not a return address), with its
// module (nullptr outside every module), or nullptr.
platform::ElfSymbols::Symbol* FindSymbol(SymbolCache* cache, uintptr_t pc,
                                         const platform::Module** module);

// Loads the symbol tables of every module loaded now into the dump
// thread's cache and every other (the HTTP server's): before chroot(),
// after which their files may be out of reach. Call with the dumper's
// lock held.
void LoadAllSymbols();

// Names the function containing pc from the ELF symbol tables (demangled)
// into buf. Returns false if pc is in no known function.
bool SymbolizePc(SymbolCache* cache, uintptr_t pc, char* buf, size_t cap);

// Names pc (an exact instruction address) for text output: the function
// (demangled) into name, the offset into it, and the path of its module
// (or "?"). Returns false, with name "?", if pc is in no known function.
// Reads the current module list first when refresh is set.
bool DescribePc(SymbolCache* cache, uintptr_t pc, bool refresh, char* name, size_t cap,
                uint64_t* offset, const char** module);

}  // namespace heapscope::runtime
