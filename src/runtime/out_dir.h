// The output directory (HEAPSCOPE_OUT) and the files the runtime writes
// into it. Paths given here are the output directory's own path followed
// by '/' and a file name. Callers serialise (the dumper's lock).
//
// Normally files are reached by path. Once the directory is held
// (HoldOutDir), they are reached through a descriptor of it: a program
// that chroots (haproxy, postfix) or gives up root under a directory
// closed to its new user (/root is 0700) still writes into the same
// directory.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

namespace heapscope::runtime {

// mkdir -p of the output directory, once; true when it exists or is held.
bool EnsureOutDir();

// A new file at path, for writing: whatever was there under that name is
// removed first, and the file is created exclusively without following a
// link (the directory may be shared with every user). -1 on failure.
int CreateOutFile(const char* path);

bool RenameOutFile(const char* from, const char* to);
void RemoveOutFile(const char* path);

// A new descriptor reading the output directory (getdents64, and *at
// calls relative to it), moved high; -1 when it cannot be had (or the held
// descriptor no longer names the directory). The caller closes it.
int OpenOutDirForListing();

// Opens the output directory (creating it) and writes through that
// descriptor from now on. True when held (now or before).
bool HoldOutDir();

// How many levels above the output directory the first directory is that
// uid (with group gid) may not search: 1 for its parent; 0 when there is
// none, or when it cannot be told. Walks up through ".." from the held
// descriptor, so it holds after chroot too. Supplementary groups are not
// looked at.
int ClosedAncestorDepth(uid_t uid, gid_t gid);

// stat and chmod of the output directory itself, through the descriptor
// when held.
int StatOutDir(struct stat* st);
int ChmodOutDir(mode_t mode);

}  // namespace heapscope::runtime
