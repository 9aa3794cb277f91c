// dlclose, exported from libheapscope.so: once an object is unloaded, the
// next one loaded may reuse its code addresses, so the stack walks forget
// what they cached by address (src/runtime/unwind.h).
#include <dlfcn.h>

#include <atomic>

#include "runtime/resource_table.h"
#include "runtime/runtime.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {
namespace {

using DlcloseFn = int (*)(void*);
std::atomic<DlcloseFn> g_next_dlclose{nullptr};

DlcloseFn NextDlclose() { return NextFunction(&g_next_dlclose, "dlclose"); }

}  // namespace
}  // namespace heapscope::runtime

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  heapscope::runtime::DlcloseFn next = heapscope::runtime::NextDlclose();
  if (next == nullptr) return -1;
  int rc = next(handle);
  heapscope::runtime::FlushUnwindCaches();
  return rc;
}
