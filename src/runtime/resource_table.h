// Resources a program holds besides its heap: file descriptors, threads it
// created and anonymous mappings it made, each with the stack that created
// it. Every live resource is recorded (no sampling); the tables live in
// mmap'ed memory and never allocate through malloc. Stacks go to a stack
// depot of their own, so the heap profile's stacks, counters and limits
// are exactly what they are without resource tracking.
// May call: base/, the stack depot, the unwinder. May not call: malloc on
// the recording path, anything that could block the host for long.
#pragma once

#include <errno.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/runtime.h"
#include "runtime/stack_depot.h"

namespace heapscope::runtime {

// What a descriptor is, as a profile label.
enum class FdKind : uint8_t {
  kUnknown = 0,
  kFile,
  kSocket,
  kPipe,
  kEventfd,
  kTimerfd,
  kSignalfd,
  kEpoll,
  kInotify,
  kMemfd,
  kDir,    // opendir/fdopendir
  kStdio,  // fopen/fdopen/freopen
  kCount,
};
const char* FdKindName(FdKind kind);

// Counters of what could not be recorded because a table was full.
struct ResourceDrops {
  std::atomic<uint64_t> fds{0};       // descriptor numbers beyond kMaxTrackedFds
  std::atomic<uint64_t> threads{0};   // thread records exhausted
  std::atomic<uint64_t> mappings{0};  // mapping table full
  std::atomic<uint64_t> stacks{0};    // resource stack depot full
};
ResourceDrops& ResourceDropCounts();

// Maps the tables, registers the fork handlers and records the descriptors
// the process inherited. Called once from the runtime's initialisation,
// under a RecursionGuard. HEAPSCOPE_RESOURCES=0 leaves tracking off.
void InitResources();

// Whether resource hooks record now: the runtime is up and recording, and
// this thread is not inside the profiler (the runtime's own descriptors,
// threads and mappings are made under a guard and never recorded).
bool ResourcesActive();
inline bool ShouldRecordResources() { return tls_state.guard == 0 && ResourcesActive(); }

StackDepot& ResourceDepot();

// The caller's stack (profiler frames removed) in the resource depot; 0
// when it is full (counted).
StackId CaptureResourceStack(const RecursionGuard& g);

// The next definition of `name` (RTLD_NEXT), for the resource hooks; they
// may run before the runtime initialises. nullptr if it cannot be found, or
// while this thread is already looking one up (dlsym calling back into a
// hook): callers then fall back to the system call.
void* ResolveNext(const char* name);

template <typename F>
F NextFunction(std::atomic<F>* slot, const char* name) {
  F f = slot->load(std::memory_order_acquire);
  if (HS_LIKELY(f != nullptr)) return f;
  f = reinterpret_cast<F>(ResolveNext(name));
  if (f != nullptr) slot->store(f, std::memory_order_release);
  return f;
}

// Keeps errno as the real call left it while the hook records.
class ErrnoKeeper {
 public:
  ErrnoKeeper() : saved_(errno) {}
  ~ErrnoKeeper() { errno = saved_; }
  ErrnoKeeper(const ErrnoKeeper&) = delete;
  ErrnoKeeper& operator=(const ErrnoKeeper&) = delete;

 private:
  int saved_;
};

// ---- File descriptors: a table indexed by descriptor number.
inline constexpr int kMaxTrackedFds = 1 << 20;

struct FdEntry {
  StackId stack;  // 0: inherited (no creating stack in this image)
  FdKind kind;
};

void SetFd(int fd, FdKind kind, StackId stack);
void ClearFd(int fd);
// Clears [first, last] (close_range).
void ClearFdRange(unsigned first, unsigned last);
// The entry for fd, if one is recorded.
bool GetFd(int fd, FdEntry* out);
// One past the highest descriptor ever recorded.
int FdLimit();
// The kind of a descriptor from /proc/self/fd (dup of an untracked one,
// inherited ones).
FdKind ClassifyFd(int fd);

// ---- Threads the program created with pthread_create.
struct ThreadRecord {
  std::atomic<uint32_t> state;  // kThreadFree, kThreadStarting, kThreadRunning
  std::atomic<int32_t> tid;     // 0 until the thread runs
  StackId stack;
  void* (*start)(void*);
  void* arg;
  // An address in the thread's stack (set when it starts), so the RSS
  // breakdown can tell which mapping is its stack.
  std::atomic<uintptr_t> stack_hint;
};
inline constexpr uint32_t kThreadFree = 0;
inline constexpr uint32_t kThreadStarting = 1;
inline constexpr uint32_t kThreadRunning = 2;
inline constexpr size_t kMaxThreadRecords = 1 << 15;

// A free record, marked starting; nullptr when all are in use (counted).
ThreadRecord* AcquireThreadRecord();
void ReleaseThreadRecord(ThreadRecord* r);
ThreadRecord* ThreadRecordAt(size_t i);
// One past the highest record index ever used.
size_t ThreadRecordLimit();
// The record of the calling thread (set by the start trampoline).
void SetCurrentThreadRecord(ThreadRecord* r);

// ---- Anonymous mappings, as sorted, disjoint address ranges.
struct MappingEntry {
  uintptr_t start;
  uintptr_t end;
  StackId stack;
};
inline constexpr size_t kMaxMappings = 1 << 16;

// Records [start, start+len), replacing whatever it overlaps (MAP_FIXED).
void AddMapping(uintptr_t start, size_t len, StackId stack);
// Forgets [start, start+len): whole ranges go, partial ones are trimmed or
// split.
void RemoveMappings(uintptr_t start, size_t len);
// mremap: the range that started at old_start (if recorded) now is
// [new_start, new_start+new_len), with its creating stack. Returns whether
// old_start was recorded.
bool MoveMapping(uintptr_t old_start, size_t old_len, uintptr_t new_start, size_t new_len,
                 bool keep_old);
// Copies up to cap entries; returns how many there are in all.
size_t CopyMappings(MappingEntry* out, size_t cap);

// Which kinds of resource the program itself has created through the
// hooks: their profiles are written from then on.
struct ResourceSeen {
  std::atomic<bool> fds{false};
  std::atomic<bool> threads{false};
  std::atomic<bool> mappings{false};
};
ResourceSeen& ResourcesSeen();

}  // namespace heapscope::runtime
