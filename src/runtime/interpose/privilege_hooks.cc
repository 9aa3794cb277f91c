// setuid, seteuid, setreuid, setresuid and chroot, exported from
// libheapscope.so. A server started as root often gives up root in its
// workers (nginx, Apache) or execs its service through su or setpriv, and
// some shut themselves into a directory first (haproxy, postfix). From
// then on the output directory's path leads nowhere or to a directory the
// process may not write to. Before such a call, the directory is shared
// and held open (dumper.h: ShareOutDirBeforeUidChange,
// HoldOutDirBeforeChroot); the call itself is unchanged.
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/dumper.h"
#include "runtime/resource_table.h"

namespace heapscope::runtime {
namespace {

using SetuidFn = int (*)(uid_t);
using SetreuidFn = int (*)(uid_t, uid_t);
using SetresuidFn = int (*)(uid_t, uid_t, uid_t);
std::atomic<SetuidFn> g_next_setuid{nullptr};
std::atomic<SetuidFn> g_next_seteuid{nullptr};
std::atomic<SetreuidFn> g_next_setreuid{nullptr};
std::atomic<SetresuidFn> g_next_setresuid{nullptr};
using ChrootFn = int (*)(const char*);
std::atomic<ChrootFn> g_next_chroot{nullptr};

}  // namespace
}  // namespace heapscope::runtime

using namespace heapscope::runtime;  // NOLINT: hooks are in the global namespace

// The fallbacks (no next definition found) are the raw system calls, which
// change only the calling thread's ids: acceptable for the moment before
// dlsym works, when the process has one thread.
extern "C" __attribute__((visibility("default"))) int setuid(uid_t uid) {
  SetuidFn f = NextFunction(&g_next_setuid, "setuid");
  ShareOutDirBeforeUidChange(uid);
  if (f == nullptr) return static_cast<int>(syscall(SYS_setuid, uid));
  return f(uid);
}

extern "C" __attribute__((visibility("default"))) int seteuid(uid_t euid) {
  SetuidFn f = NextFunction(&g_next_seteuid, "seteuid");
  ShareOutDirBeforeUidChange(euid);
  if (f == nullptr) {
    return static_cast<int>(syscall(SYS_setresuid, static_cast<uid_t>(-1), euid,
                                    static_cast<uid_t>(-1)));
  }
  return f(euid);
}

extern "C" __attribute__((visibility("default"))) int setreuid(uid_t ruid, uid_t euid) {
  SetreuidFn f = NextFunction(&g_next_setreuid, "setreuid");
  ShareOutDirBeforeUidChange(euid);
  if (f == nullptr) return static_cast<int>(syscall(SYS_setreuid, ruid, euid));
  return f(ruid, euid);
}

extern "C" __attribute__((visibility("default"))) int setresuid(uid_t ruid, uid_t euid,
                                                                uid_t suid) {
  SetresuidFn f = NextFunction(&g_next_setresuid, "setresuid");
  ShareOutDirBeforeUidChange(euid);
  if (f == nullptr) return static_cast<int>(syscall(SYS_setresuid, ruid, euid, suid));
  return f(ruid, euid, suid);
}

extern "C" __attribute__((visibility("default"))) int chroot(const char* path) {
  ChrootFn f = NextFunction(&g_next_chroot, "chroot");
  HoldOutDirBeforeChroot();
  if (f == nullptr) return static_cast<int>(syscall(SYS_chroot, path));
  return f(path);
}
