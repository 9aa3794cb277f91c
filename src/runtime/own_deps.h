// The libraries the runtime itself calls (zlib, libunwind), reached through
// handles on them rather than through the process's symbol scope, where
// the program comes first: a program that exports functions of the same
// names would have the runtime call its own. varnishd carries a changed
// zlib and exports it for its modules; bound to it, the runtime's
// deflateInit2_ failed (another version) and none of varnishd's processes
// could write a profile (a program linked with LLVM's libunwind has an
// unw_backtrace of its own too).
#pragma once

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <zlib.h>

namespace heapscope::runtime {

struct OwnDeps {
  int (*deflate_init2)(z_streamp, int, int, int, int, int, const char*, int);
  int (*deflate)(z_streamp, int);
  int (*deflate_end)(z_streamp);
  int (*unw_backtrace)(void**, int);
  int (*unw_set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
  int (*unw_flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
  unw_addr_space_t* unw_local_addr_space;
};

// Looks them up (at start-up, once the real allocator is known); false if
// one is missing: the runtime then stays off.
bool ResolveOwnDeps();
const OwnDeps& Deps();

}  // namespace heapscope::runtime
