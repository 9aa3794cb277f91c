#include "runtime/out_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/proc_dir.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {
namespace {

bool g_dir_ready = false;
int g_held_fd = -1;
dev_t g_held_dev = 0;
ino_t g_held_ino = 0;

const char* OutDir() { return GlobalState().config.out_dir; }

// Whether the held descriptor still names the output directory: one the
// program closed or reused no longer does.
bool HeldStillNamesDir() {
  struct stat st;
  return fstat(g_held_fd, &st) == 0 && st.st_dev == g_held_dev && st.st_ino == g_held_ino;
}

// Where path is reached: (AT_FDCWD, path), or (held descriptor, name)
// once held, for a file of the output directory. A held descriptor the
// program closed or reused no longer names the directory: -1 then, and
// every operation fails. Paths elsewhere (DumpToPath's) go by path.
int Resolve(const char* path, const char** name) {
  *name = path;
  if (g_held_fd < 0) return AT_FDCWD;
  size_t n = strlen(OutDir());
  if (strncmp(path, OutDir(), n) != 0 || path[n] != '/') return AT_FDCWD;
  if (!HeldStillNamesDir()) {
    errno = EBADF;
    return -1;
  }
  *name = path + n + 1;
  return g_held_fd;
}

}  // namespace

bool EnsureOutDir() {
  if (g_dir_ready || g_held_fd >= 0) return true;
  char path[1024];
  const char* dir = OutDir();
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return false;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] == '/' || path[i] == '\0') {
      char saved = path[i];
      path[i] = '\0';
      if (mkdir(path, 0755) != 0 && errno != EEXIST) return false;
      path[i] = saved;
    }
  }
  g_dir_ready = true;
  return true;
}

int CreateOutFile(const char* path) {
  const char* name;
  int dirfd = Resolve(path, &name);
  if (dirfd == -1) return -1;
  unlinkat(dirfd, name, 0);  // one of ours left by a crash; in a shared directory, only ours
  // The system call itself: the runtime's own descriptors are not the
  // program's (fd_hooks). Held while the profile is compressed and
  // written: moved high (proc_dir.h).
  return MoveToHighFd(static_cast<int>(syscall(
      SYS_openat, dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)));
}

bool RenameOutFile(const char* from, const char* to) {
  const char* from_name;
  const char* to_name;
  int dirfd = Resolve(from, &from_name);
  if (dirfd == -1 || Resolve(to, &to_name) != dirfd) return false;
  return renameat(dirfd, from_name, dirfd, to_name) == 0;
}

void RemoveOutFile(const char* path) {
  const char* name;
  int dirfd = Resolve(path, &name);
  if (dirfd != -1) unlinkat(dirfd, name, 0);
}

int OpenOutDirForListing() {
  if (g_held_fd >= 0 && !HeldStillNamesDir()) return -1;
  int dirfd = g_held_fd >= 0 ? g_held_fd : AT_FDCWD;
  const char* path = g_held_fd >= 0 ? "." : OutDir();
  return MoveToHighFd(
      static_cast<int>(syscall(SYS_openat, dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
}

bool HoldOutDir() {
  if (g_held_fd >= 0) return true;
  if (!EnsureOutDir()) return false;
  int fd = static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, OutDir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) return false;
  fd = MoveToHighFd(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    syscall(SYS_close, fd);
    return false;
  }
  g_held_dev = st.st_dev;
  g_held_ino = st.st_ino;
  g_held_fd = fd;
  RegisterOwnFd(fd);
  return true;
}

int ClosedAncestorDepth(uid_t uid, gid_t gid) {
  int cur = g_held_fd >= 0
                ? static_cast<int>(syscall(SYS_fcntl, g_held_fd, F_DUPFD_CLOEXEC, 0))
                : static_cast<int>(syscall(SYS_openat, AT_FDCWD, OutDir(),
                                           O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (cur < 0) return 0;
  struct stat here;
  int depth = 0;
  if (fstat(cur, &here) == 0) {
    for (int k = 1; k <= 256; k++) {
      int up = static_cast<int>(
          syscall(SYS_openat, cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (up < 0) break;
      syscall(SYS_close, cur);
      cur = up;
      struct stat st;
      if (fstat(cur, &st) != 0) break;
      if (st.st_dev == here.st_dev && st.st_ino == here.st_ino) break;  // "/": its own parent
      mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
      if ((st.st_mode & bit) == 0) {
        depth = k;
        break;
      }
      here = st;
    }
  }
  syscall(SYS_close, cur);
  return depth;
}

int StatOutDir(struct stat* st) {
  if (g_held_fd < 0) return stat(OutDir(), st);
  return fstat(g_held_fd, st);
}

int ChmodOutDir(mode_t mode) {
  if (g_held_fd < 0) return chmod(OutDir(), mode);
  return fchmod(g_held_fd, mode);
}

}  // namespace heapscope::runtime
