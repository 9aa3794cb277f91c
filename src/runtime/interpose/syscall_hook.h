// The syscall() hook (syscall_hook.cc) and the calls it shares with the
// other hooks.
#pragma once

namespace heapscope::runtime {

// prctl(PR_SET_SECCOMP, mode, filter) is about to be made (ns_hooks.cc).
void PrctlSetSeccompComing(unsigned long mode, unsigned long filter);

}  // namespace heapscope::runtime
