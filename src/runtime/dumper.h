// When profiles are written: periodic snapshots, on demand by signal or
// API, and once at the end however the process ends (return from main,
// exit, _exit, SIGTERM/SIGINT/SIGHUP it does not handle). A background
// thread does the periodic and on-demand work; no writing ever happens in
// a signal handler of a thread that may hold a lock.
#pragma once

#include <sys/types.h>

#include "runtime/runtime.h"

namespace heapscope::runtime {

// Installs signal handlers, the fork handlers and starts the dump thread.
// Called from the library constructor, once libc is up.
void StartDumper();

// In programs exec'd from the profiled process (not in forked children),
// the dump thread starts lazily: hooks call this at recorded events (sampled allocations,
// the program's pthread_create with now = true); it starts the thread
// once its time has come. One relaxed load when nothing is pending.
void StartLazyThread(bool now);

// Called by the pthread_exit hook in the main thread: the process must end
// when the program's other threads have, not be kept alive by the
// runtime's (see DumpLoop in dumper.cc).
void MainThreadExiting();

// unshare(CLONE_NEWUSER) and setns() into a user or mount namespace need
// a process with one thread: the dump thread ends for the call and starts
// again after it. Pause returns false if the thread did not end in time
// (the call then fails as it would have). Every Pause is followed by one
// Resume. Meanwhile snapshots wait, and a terminating signal writes the
// final profile from its handler.
bool PauseDumpThread();
void ResumeDumpThread();

// Called as root before the process sets a non-zero effective uid
// (setuid and friends; a server's workers dropping privileges): once it
// has, it could no longer write into an output directory only root may
// write to. The directory is then made writable by every user with the
// sticky bit (like /tmp); the runtime writes through new files it creates
// exclusively, never following links.
// The process also holds the directory open from then on (out_dir.h), so
// that a directory above it closed to the new user does not matter to it.
void ShareOutDirBeforeUidChange(uid_t new_euid);

// Called before chroot(): from then on the output directory's path would
// lead into the new root; the process holds the directory open and writes
// through it.
void HoldOutDirBeforeChroot();

// Called before the program installs a seccomp filter (prctl
// PR_SET_SECCOMP, or seccomp(2): libseccomp's users, chronyd and tor among
// them; OpenSSH's pre-authentication child, vsftpd). A system call the
// filter does not allow fails, or ends the thread that makes it
// (SECCOMP_RET_KILL_THREAD: at exit, chronyd's main thread ended inside the
// final profile's write with the dump lock held, and the dump thread then
// spun on it for ever). A filter binds the thread that installs it and the
// threads and processes it starts from then on; `all_threads`: it binds
// every thread of the process (SECCOMP_FILTER_FLAG_TSYNC).
//
// Either way the runtime's terminating-signal handlers give way to the
// default action (they make system calls a filter may not allow). When
// the runtime's thread is running and stays free of the filter, it goes
// on: recording continues, snapshots are written, and the final profile is
// written by that thread whichever thread ends the process; the runtime
// starts no thread of its own from then on (it would be bound), and the
// children forked from then on are not profiled. Otherwise (every thread
// bound, or no runtime thread) the runtime stands aside from then on:
// recording stops, its threads end, and no final profile is written.
// Profiles already written stay.
void BeforeSeccompFilter(bool all_threads);

// Whether the calling thread may make the runtime's own system calls (open
// a file, write a profile): not a thread a seccomp filter may bind.
bool ThreadMayWrite();

// Writes the next numbered snapshot. Returns false on failure.
bool DumpSnapshot();

// Writes a profile to an explicit path.
bool DumpToPath(const char* path);

// Writes heap.final.pb.gz once; later calls do nothing.
void FinalDump();

}  // namespace heapscope::runtime
