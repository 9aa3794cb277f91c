// dlclose, exported from libheapscope.so: once an object is unloaded, the
// next one loaded may reuse its code addresses, so the stack walk forgets
// the rules it cached by address (src/runtime/cfi_unwind.h).
#include <dlfcn.h>

#include <atomic>

#include "runtime/cfi_unwind.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {
namespace {

using DlcloseFn = int (*)(void*);
std::atomic<DlcloseFn> g_next_dlclose{nullptr};

DlcloseFn NextDlclose() {
  DlcloseFn fn = g_next_dlclose.load(std::memory_order_acquire);
  if (fn == nullptr) {
    RecursionGuard guard;  // what dlsym allocates is not the program's
    fn = reinterpret_cast<DlcloseFn>(dlsym(RTLD_NEXT, "dlclose"));
    g_next_dlclose.store(fn, std::memory_order_release);
  }
  return fn;
}

}  // namespace
}  // namespace heapscope::runtime

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  heapscope::runtime::DlcloseFn next = heapscope::runtime::NextDlclose();
  if (next == nullptr) return -1;
  int rc = next(handle);
  heapscope::runtime::FlushCfiCache();
  return rc;
}
