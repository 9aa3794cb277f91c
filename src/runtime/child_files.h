// The files of processes started by the program (forked, or exec'd with
// the runtime inherited): heap.PID.*, fds.PID.*, threadcreate.PID.* and
// mmap.PID.* beside the first process's own. Each process bounds its own
// numbered snapshots (HEAPSCOPE_KEEP), but a server that forks a process
// per connection (PostgreSQL's backends, inetd-style daemons) leaves a
// set of final profiles per connection: 4,228 sets, 13,000 files and 55 MB
// in 25 s of pgbench -C. Only the sets of the newest
// HEAPSCOPE_KEEP_CHILDREN processes that have ended stay; a process still
// running keeps its files whatever its age.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heapscope::runtime {

// The pid in a file name written for a process other than the first
// (<stem>.<pid>.<rest>, stem heap, fds, threadcreate or mmap, rest ending
// in .pb.gz or .pb.gz.tmp); 0 for any other name.
int64_t ChildPidOfFile(const char* name);

// One ended process's files: when its final heap profile was written (0
// when it has none: killed, or its files were only partly deleted).
struct EndedChild {
  int64_t pid;
  int64_t mtime_ns;
};

// Sorts ended oldest first (by time, then pid) and returns how many are
// beyond the newest `keep`: the first that many are to be deleted.
size_t OldestBeyond(EndedChild* ended, size_t n, uint64_t keep);

// Deletes the files of ended processes beyond the newest
// HEAPSCOPE_KEEP_CHILDREN (0: keeps all), and appends how many sets it
// deleted, as a line of its own, to children-deleted.txt in the output
// directory (which `heapscope run`'s summary adds up). A pass that finds
// another process's pass running (a lock on the directory) leaves the work
// to it. Called by the dumper under its lock, after the directory exists.
void PruneChildFiles();

// The file PruneChildFiles appends its counts to.
inline constexpr const char* kChildrenDeletedFile = "children-deleted.txt";

}  // namespace heapscope::runtime
