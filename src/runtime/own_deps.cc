#include "runtime/own_deps.h"

#include <dlfcn.h>

#include "base/base.h"

namespace heapscope::runtime {
namespace {

OwnDeps g_deps;

// The library loaded under `soname` (the runtime needs it, so it is
// there; else loaded now, kept out of the program's scope); dlsym on its
// handle searches it, then what it needs, never the program.
void* Loaded(const char* soname) {
  void* h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
  return h != nullptr ? h : dlopen(soname, RTLD_NOW | RTLD_LOCAL);
}

template <typename T>
bool Find(void* lib, const char* name, T* out) {
  *out = reinterpret_cast<T>(dlsym(lib, name));
  return *out != nullptr;
}

}  // namespace

bool ResolveOwnDeps() {
  OwnDeps d = {};
  void* z = Loaded(HS_ZLIB_SONAME);
  void* unw = Loaded(HS_LIBUNWIND_SONAME);
  if (z == nullptr || unw == nullptr) return false;
  bool ok = Find(z, "deflateInit2_", &d.deflate_init2) && Find(z, "deflate", &d.deflate) &&
            Find(z, "deflateEnd", &d.deflate_end) &&
            Find(unw, HS_STRINGIFY(unw_backtrace), &d.unw_backtrace) &&
            Find(unw, HS_STRINGIFY(unw_set_caching_policy), &d.unw_set_caching_policy) &&
            Find(unw, HS_STRINGIFY(unw_flush_cache), &d.unw_flush_cache) &&
            Find(unw, HS_STRINGIFY(unw_local_addr_space), &d.unw_local_addr_space);
  if (ok) g_deps = d;
  return ok;
}

const OwnDeps& Deps() { return g_deps; }

}  // namespace heapscope::runtime
