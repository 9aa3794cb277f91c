#include "runtime/symbol_cache.h"

#include <cxxabi.h>
#include <string.h>
#include <unistd.h>

#include <string_view>

#include "base/cxx_names.h"
#include "base/no_destructor.h"
#include "base/raw_log.h"
#include "runtime/real_functions.h"
#include "runtime/recorder.h"

namespace heapscope::runtime {

platform::ModuleTable& Modules();

namespace {

// The caches of threads other than the dump thread (the HTTP server's),
// for LoadAllSymbols.
constexpr size_t kMaxExtraCaches = 4;
std::atomic<SymbolCache*> g_extra_caches[kMaxExtraCaches];

base::NoDestructor<SymbolCache> g_symbols;
bool g_symbols_ready = false;

// Debian's debug packages (libc6-dbg, ...) and debuginfod caches keep the
// full symbol table of a stripped library under its build ID: it names
// the local functions (start_thread, execute_native_thread_routine) that
// the library's own dynamic symbols leave out.
bool LoadSeparateDebugSymbols(const platform::Module& m, platform::ElfSymbols* out,
                              base::MmapArena* arena) {
  size_t id_len = m.build_id != nullptr ? strlen(m.build_id) : 0;
  if (id_len < 4) return false;
  char path[256];
  base::RawBuffer b(path, sizeof path);
  b.Str("/usr/lib/debug/.build-id/").Str(m.build_id, 2).Char('/').Str(m.build_id + 2).Str(".debug");
  if (b.truncated() || access(b.CStr(), R_OK) != 0) return false;
  platform::ElfSymbols dbg;
  if (!dbg.Load(path, arena) || !dbg.full()) return false;
  *out = dbg;
  return true;
}

}  // namespace

SymbolCache* NewSymbolCache() {
  void* mem = base::MapPages(sizeof(SymbolCache));
  if (mem == nullptr) return nullptr;
  SymbolCache* c = new (mem) SymbolCache();
  for (auto& slot : g_extra_caches) {
    SymbolCache* expected = nullptr;
    if (slot.compare_exchange_strong(expected, c)) break;
  }
  return c;
}

SymbolCache* DefaultSymbols() {
  if (!g_symbols_ready) {
    g_symbols.Construct();
    g_symbols_ready = true;
  }
  return &*g_symbols;
}

platform::ElfSymbols* SymbolsFor(SymbolCache* cache, size_t module_index) {
  SymbolCache& c = *cache;
  uint8_t state = c.state[module_index].load(std::memory_order_acquire);
  if (state == 0) {
    base::SpinLockHolder h(c.load_lock);
    state = c.state[module_index].load(std::memory_order_relaxed);
    if (state == 0) {
      const platform::Module& m = Modules().at(module_index);
      platform::ElfSymbols* syms = new (c.symbols(module_index)) platform::ElfSymbols();
      bool ok = LoadSeparateDebugSymbols(m, syms, &c.arena) || syms->Load(m.path, &c.arena);
      state = ok ? 1 : 2;
      c.state[module_index].store(state, std::memory_order_release);
    }
  }
  return state == 1 ? c.symbols(module_index) : nullptr;
}

void LoadAllSymbols() {
  Modules().Refresh();
  size_t n = Modules().size();
  SymbolCache* cache = DefaultSymbols();
  for (size_t i = 0; i < n; i++) SymbolsFor(cache, i);
  for (auto& slot : g_extra_caches) {
    if (SymbolCache* c = slot.load(std::memory_order_acquire)) {
      for (size_t i = 0; i < n; i++) SymbolsFor(c, i);
    }
  }
}

const char* Demangled(SymbolCache* cache, platform::ElfSymbols::Symbol* s) {
  if (s->demangled != nullptr) return s->demangled;
  s->demangled = s->name;
  if (s->name[0] == '_' && s->name[1] == 'Z') {
    int status = 0;
    // Called with the recursion guard held: its malloc is not recorded.
    // That malloc is the first in the process's scope: ours, whose block
    // goes back as the hooks hand them out, or, when the program's own
    // allocator comes first (heap_shadowed), that allocator's, whose block
    // must go back to its own free (glibc's aborted on it).
    char* d = abi::__cxa_demangle(s->name, nullptr, nullptr, &status);
    if (status == 0 && d != nullptr) {
      // The short form pprof shows by default ("std::vector::push_back");
      // the symbol itself stays in system_name, for the full signature.
      size_t len = strlen(d);
      char* copy = static_cast<char*>(cache->arena.Alloc(len + 1, 1));
      if (copy != nullptr) {
        len = base::ShortCxxName(std::string_view(d, len), copy, len);
        copy[len] = '\0';
        if (len > 0) s->demangled = copy;
      }
    }
    if (d != nullptr) {
      if (their.free != nullptr) {
        their.free(d);
      } else {
        FreeBlock(d);
      }
    }
  }
  return s->demangled;
}

platform::ElfSymbols::Symbol* FindSymbol(SymbolCache* cache, uintptr_t pc,
                                         const platform::Module** module) {
  const platform::Module* mod = Modules().Find(pc);
  *module = mod;
  if (mod == nullptr) return nullptr;
  size_t mi = static_cast<size_t>(mod - &Modules().at(0));
  platform::ElfSymbols* syms = SymbolsFor(cache, mi);
  return syms != nullptr ? syms->Find(pc - mod->load_bias) : nullptr;
}

bool SymbolizePc(SymbolCache* cache, uintptr_t pc, char* buf, size_t cap) {
  if (cap == 0) return false;
  buf[0] = '\0';
  if (cache == nullptr) return false;
  const platform::Module* mod;
  platform::ElfSymbols::Symbol* s = FindSymbol(cache, pc, &mod);
  if (s == nullptr) return false;
  base::RawBuffer b(buf, cap);
  b.Str(Demangled(cache, s));
  b.CStr();
  return true;
}

bool DescribePc(SymbolCache* cache, uintptr_t pc, bool refresh, char* name, size_t cap,
                uint64_t* offset, const char** module) {
  *offset = 0;
  *module = "?";
  base::RawBuffer b(name, cap);
  if (refresh) Modules().Refresh();
  const platform::Module* mod = nullptr;
  platform::ElfSymbols::Symbol* s = cache != nullptr ? FindSymbol(cache, pc, &mod) : nullptr;
  if (mod == nullptr && cache != nullptr) mod = Modules().Find(pc);
  if (mod != nullptr) *module = mod->path;
  if (s == nullptr) {
    b.Str("?").CStr();
    return false;
  }
  b.Str(Demangled(cache, s)).CStr();
  *offset = pc - mod->load_bias - s->addr;
  return true;
}

}  // namespace heapscope::runtime
