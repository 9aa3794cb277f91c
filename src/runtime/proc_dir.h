// Reading /proc from inside the profiled process: system calls only (never
// the program's hooks), no opendir, no malloc.
#pragma once

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace heapscope::runtime {

// Opens a file of /proc (path starts "/proc/", or any other path) with the
// system call itself, moved at once to a high number (MoveToHighFd): held
// while a profile reads it (smaps can take tens of milliseconds), a low
// one would take the number a program's open() expects at that moment
// (after close(0), say); now only for the two system calls of the move.
// Once HoldProcDir ran, through a descriptor of /proc held open: a
// program that chroots (haproxy, postfix) has no /proc of its own, yet
// "self" under the held one still names the calling process, forked
// children included.
int OpenProc(const char* path, int flags);
long ReadlinkProc(const char* path, char* buf, size_t cap);

// Holds /proc open from now on (before chroot). Idempotent.
void HoldProcDir();

// Moves a descriptor of the runtime's (one it keeps for the program's
// lifetime, like the held /proc and output directory, or one it reads or
// writes for a while, like a profile being written) to kHighFdBase or
// above, away from the numbers a program expects open() to return next;
// close-on-exec. Returns the descriptor to use: fd itself when it is
// already there, negative, or cannot move (RLIMIT_NOFILE at 512 or less).
inline constexpr int kHighFdBase = 512;
int MoveToHighFd(int fd);

// The runtime's own descriptors that live on (the held /proc and output
// directory, the HTTP server's socket, wake pipe and connections). The
// program's close(), close_range(), closefrom(), dup2() and dup3() leave
// them alone (close and dup2/dup3 onto one fail with EBADF, as if it were
// not open; the ranges are closed around them), as valgrind does for its
// own: a daemon that closes every descriptor it did not open would
// otherwise cut the profiler off, and then get the number back for a file
// or socket of its own, which the profiler would read, write or accept
// connections on. Registered once obtained (moved high first), and
// unregistered before the runtime closes one itself (CloseOwnFd).
void RegisterOwnFd(int fd);
bool IsOwnFd(int fd);
int CloseOwnFd(int fd);
// The own descriptors in [first, last], sorted, into out; how many (at
// most cap).
size_t OwnFdsIn(unsigned first, unsigned last, int* out, size_t cap);
inline constexpr size_t kMaxOwnFds = 32;

// Reads a small file into buf (NUL-terminated); its length, 0 when it
// cannot be read.
size_t ReadSmallFile(const char* path, char* buf, size_t cap);

// The limits a resource leak runs into, and the count that grows towards
// one: the soft RLIMIT_NOFILE (0: unlimited or unknown); the kernel's
// vm.max_map_count and the process's mappings now (lines of
// /proc/self/maps), 0 when unknown.
uint64_t SoftFdLimit();
uint64_t MaxMapCount();
uint64_t CountMappings();

// Reads /proc/self/task/TID/WHAT like ReadSmallFile.
size_t ReadTaskFile(int tid, const char* what, char* buf, size_t cap);

// Thread tid's state letter (R, S, D, ...: after the last ')' of its
// stat), or 0 when the thread is gone.
char ReadThreadState(int tid);

// The name of thread `tid` of this process (/proc/self/task/TID/comm,
// without the newline) into out, NUL-terminated; its length, 0 when the
// thread is gone.
size_t ReadThreadName(int tid, char* out, size_t cap);

// A thread's state letter from /proc/.../stat, named as /proc/.../status
// names it ("sleeping", "disk sleep", ...): the thread dump's brackets and
// the thread profiles' `state` label.
const char* ThreadStateName(char c);

// Calls fn(name) for each entry of the directory read by dir, from where
// the descriptor stands; fn returns false to stop. kBuffer: bytes read per
// system call; a small one makes a walk that stops early cheap
// (/proc/self/task of a process with thousands of threads).
template <size_t kBuffer = 8192, typename Fn>
void ForEachDirEntry(int dir, Fn&& fn) {
  struct Dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };
  alignas(8) char buf[kBuffer];
  for (;;) {
    long got = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (got <= 0) return;
    for (long off = 0; off < got;) {
      const auto* d = reinterpret_cast<const Dirent64*>(buf + off);
      off += d->reclen;
      if (!fn(static_cast<const char*>(d->name))) return;
    }
  }
}

// Calls fn(number, dir_fd) for each entry of a directory whose name is a
// number (/proc/self/task, /proc/self/fd); fn returns false to stop. dir_fd
// is the descriptor reading the directory (it shows in /proc/self/fd).
// False when the directory does not open. kBuffer as ForEachDirEntry's.
template <size_t kBuffer = 4096, typename Fn>
bool ForEachNumberedEntry(const char* path, Fn&& fn) {
  int dir = OpenProc(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  ForEachDirEntry<kBuffer>(dir, [&](const char* p) {
    if (*p < '0' || *p > '9') return true;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
    return static_cast<bool>(fn(v, dir));
  });
  syscall(SYS_close, dir);
  return true;
}

// Calls fn(name) for each entry of the directory read by dir, from its
// start (it is rewound first).
template <typename Fn>
void ForEachDirName(int dir, Fn&& fn) {
  if (lseek(dir, 0, SEEK_SET) != 0) return;
  ForEachDirEntry(dir, [&](const char* name) {
    fn(name);
    return true;
  });
}

}  // namespace heapscope::runtime
