#include "runtime/real_functions.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include <atomic>

#include "runtime/runtime.h"

namespace heapscope::runtime {

RealFunctions real = {};
TheirFunctions their = {};
bool their_known = false;

namespace {

// dlsym allocates a few small blocks (e.g. its error buffer) before the real
// malloc is known. Each gets a page-aligned slot so that free() sends it to
// the slow path, which recognises it here (lsan's DlsymAlloc does the same).
constexpr size_t kPoolBytes = 256 * 1024;
alignas(4096) unsigned char g_pool[kPoolBytes];
std::atomic<size_t> g_pool_used{0};

struct SlotHeader {
  size_t size;
};

template <typename T>
void Resolve(T* fn, const char* name) {
  *reinterpret_cast<void**>(fn) = dlsym(RTLD_NEXT, name);
}

// Whether fn lies in this library.
bool Ours(void* fn) {
  Dl_info self, other;
  return dladdr(reinterpret_cast<void*>(&ResolveRealFunctions), &self) != 0 &&
         dladdr(fn, &other) != 0 && other.dli_fbase == self.dli_fbase;
}

// Whether `f` is the address of a definition of a symbol, rather than an
// executable's canonical PLT entry: a program built without PIE that takes
// a function's address (python3 and node take malloc's) exports the
// symbol undefined, with the address of its PLT stub as value, and dlsym
// returns that stub. The stub jumps to the first definition after the
// executable in the global scope.
bool IsDefinition(void* f) {
  Dl_info info;
  void* entry = nullptr;
  if (dladdr1(f, &info, &entry, RTLD_DL_SYMENT) == 0 || entry == nullptr) {
    return true;  // nothing known of it: take it as it is
  }
  return static_cast<const ElfW(Sym)*>(entry)->st_shndx != SHN_UNDEF;
}

// Objects ahead of this library in the global scope, after the executable
// (libraries preloaded before it), by name; at most kMaxAhead of them.
constexpr int kMaxAhead = 16;
struct AheadOfUs {
  const char* names[kMaxAhead];
  int count;
  int index;
  uintptr_t self_base;
  bool reached_self;
};

int CollectAhead(struct dl_phdr_info* info, size_t, void* data) {
  auto* a = static_cast<AheadOfUs*>(data);
  if (a->index++ == 0) return 0;  // the executable
  if (info->dlpi_addr == a->self_base) {
    a->reached_self = true;
    return 1;
  }
  if (a->count < kMaxAhead && info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') {
    a->names[a->count++] = info->dlpi_name;
  }
  return 0;
}

// What the executable's canonical PLT entry for `name` leads to, if that
// is not this library: a definition in a library loaded ahead of it.
void* DefinitionAheadOfUs(const char* name) {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&ResolveRealFunctions), &self) == 0) return nullptr;
  AheadOfUs a = {};
  a.self_base = reinterpret_cast<uintptr_t>(self.dli_fbase);
  dl_iterate_phdr(CollectAhead, &a);
  if (!a.reached_self) return nullptr;
  for (int i = 0; i < a.count; i++) {
    void* h = dlopen(a.names[i], RTLD_LAZY | RTLD_NOLOAD);
    if (h == nullptr) continue;
    void* f = dlsym(h, name);
    dlclose(h);
    Dl_info info;
    if (f != nullptr && !Ours(f) && IsDefinition(f) && dladdr(f, &info) != 0 &&
        info.dli_fname != nullptr && strcmp(info.dli_fname, a.names[i]) == 0) {
      return f;
    }
  }
  return nullptr;
}

// The program's own definition of `name` (the first in the global scope),
// unless that is ours. An executable's canonical PLT entry is not one: it
// leads to the first definition after the executable, ours unless a
// library loaded ahead of us defines the name.
template <typename T>
void ResolveTheirs(T* fn, const char* name) {
  void* f = dlsym(RTLD_DEFAULT, name);
  if (f != nullptr && !Ours(f) && !IsDefinition(f)) f = DefinitionAheadOfUs(name);
  *reinterpret_cast<void**>(fn) = f != nullptr && !Ours(f) ? f : nullptr;
}

}  // namespace

void* BootstrapAlloc(size_t size, size_t align) {
  if (align < 4096) align = 4096;
  // The header sits in the slot before the returned, page-aligned address.
  size_t need = ((size + sizeof(SlotHeader) + align - 1) / align + 1) * align;
  size_t off = g_pool_used.fetch_add(need, std::memory_order_relaxed);
  if (off + need > kPoolBytes) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(g_pool) + off;
  uintptr_t p = base + align;
  reinterpret_cast<SlotHeader*>(p - sizeof(SlotHeader))->size = size;
  return reinterpret_cast<void*>(p);
}

bool IsBootstrap(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uintptr_t b = reinterpret_cast<uintptr_t>(g_pool);
  return a >= b && a < b + kPoolBytes;
}

size_t BootstrapSize(const void* p) {
  return reinterpret_cast<const SlotHeader*>(static_cast<const char*>(p) - sizeof(SlotHeader))
      ->size;
}

namespace {

// Whether two functions are defined in the same loaded object.
bool SameObject(void* a, void* b) {
  Dl_info ia;
  Dl_info ib;
  return dladdr(a, &ia) != 0 && dladdr(b, &ib) != 0 && ia.dli_fbase == ib.dli_fbase;
}

}  // namespace

bool ResolveRealFunctions() {
  RealFunctions r = {};
  Resolve(&r.malloc, "malloc");
  Resolve(&r.free, "free");
  Resolve(&r.calloc, "calloc");
  Resolve(&r.realloc, "realloc");
  Resolve(&r.memalign, "memalign");
  Resolve(&r.posix_memalign, "posix_memalign");
  Resolve(&r.aligned_alloc, "aligned_alloc");
  Resolve(&r.valloc, "valloc");
  Resolve(&r.pvalloc, "pvalloc");
  Resolve(&r.malloc_usable_size, "malloc_usable_size");
  Resolve(&r.mallocx, "mallocx");
  Resolve(&r.rallocx, "rallocx");
  Resolve(&r.xallocx, "xallocx");
  Resolve(&r.dallocx, "dallocx");
  Resolve(&r.sdallocx, "sdallocx");
  Resolve(&r.sallocx, "sallocx");
  Resolve(&r.nallocx, "nallocx");
  r.allocx_is_malloc =
      r.malloc != nullptr && r.mallocx != nullptr && r.rallocx != nullptr && r.xallocx != nullptr &&
      r.dallocx != nullptr && r.sdallocx != nullptr && r.sallocx != nullptr &&
      r.nallocx != nullptr &&
      SameObject(reinterpret_cast<void*>(r.malloc), reinterpret_cast<void*>(r.mallocx));
  Resolve(&r.exit_, "_exit");
  Resolve(&r.Exit_, "_Exit");
  if (r.malloc == nullptr || r.free == nullptr || r.calloc == nullptr || r.realloc == nullptr ||
      r.memalign == nullptr) {
    return false;
  }
  real = r;
  TheirFunctions t = {};
  ResolveTheirs(&t.malloc, "malloc");
  ResolveTheirs(&t.free, "free");
  ResolveTheirs(&t.realloc, "realloc");
  ResolveTheirs(&t.aligned_alloc, "aligned_alloc");
  ResolveTheirs(&t.new_, "_Znwm");
  ResolveTheirs(&t.new_array, "_Znam");
  ResolveTheirs(&t.delete_, "_ZdlPv");
  ResolveTheirs(&t.delete_array, "_ZdaPv");
  ResolveTheirs(&t.new_aligned, "_ZnwmSt11align_val_t");
  ResolveTheirs(&t.new_array_aligned, "_ZnamSt11align_val_t");
  ResolveTheirs(&t.delete_aligned, "_ZdlPvSt11align_val_t");
  ResolveTheirs(&t.delete_array_aligned, "_ZdaPvSt11align_val_t");
  their = t;
  __atomic_store_n(&their_known, true, __ATOMIC_RELEASE);
  return true;
}

}  // namespace heapscope::runtime
