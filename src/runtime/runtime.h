// src/runtime: only what runs inside the profiled process. Hooks sample
// allocations, record their stacks in the stack depot and live objects in
// the live table, and the dumper turns both into profile.proto files.
// May call: base/, platform/, format/ (writer half only), libunwind, zlib
// (with our own allocator). May not call: analyze/, cli/, anything that
// allocates through malloc on the recording path.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/base.h"
#include "base/striped_counter.h"

namespace heapscope::runtime {

inline constexpr size_t kPageSize = 4096;
// Offsets 0 and 16 in a page pass (p & kRecognisableMask) == 0.
inline constexpr uintptr_t kRecognisableMask = (kPageSize - 1) & ~uintptr_t{16};
// Deepest stack kept; deeper stacks are truncated and marked.
inline constexpr int kMaxFrames = 128;

struct Config {
  uint64_t rate = 524288;  // mean bytes between samples; <= 1: every allocation
  uint64_t interval_ns = 0;  // periodic snapshots; 0: off
  uint64_t keep = 100;       // newest periodic snapshots kept on disk
  // Ended processes started by the program whose files stay (child_files.h).
  uint64_t keep_children = 200;
  uint64_t max_stacks = 1 << 20;
  uint64_t max_live = 1 << 26;
  // Longest a read of glibc's mallinfo2 may take before it is no longer
  // made (memory_snapshot.cc); 0: never read.
  uint64_t mallinfo_max_ns = 10'000'000;
  int dump_signal = 0;  // resolved at init (SIGRTMIN+7 by default); 0: off
  bool follow_fork = true;
  bool enabled = true;
  bool final_dump = true;
  // Snapshots ahead of an OOM kill, as the memory held nears the cgroup's
  // memory limit (dumper.cc); HEAPSCOPE_PRESSURE=0 turns them off.
  bool pressure = true;
  char out_dir[1024] = {0};
  // Live endpoint (src/runtime/http): HEAPSCOPE_HTTP, HEAPSCOPE_TOKEN,
  // HEAPSCOPE_HTTP_SIGNAL (0: off; else the endpoint starts on that signal).
  char http_addr[128] = {0};
  char http_token[256] = {0};
  int http_signal = 0;
};

// Flags that belong to one process and that a child must not take over
// unless the runtime's fork handlers set them for it (MoveProcessFlags in
// runtime.cc: a child made by a clone the runtime does not see runs no
// handlers, and finds them all off).
struct ProcessFlags {
  std::atomic<bool> active{false};       // recording on (State::active)
  std::atomic<bool> dump_thread{false};  // the dump thread runs (dumper.cc)
  std::atomic<bool> http_thread{false};  // the live endpoint's thread runs
};
extern std::atomic<ProcessFlags*> g_process_flags;
inline ProcessFlags& ThisProcess() { return *g_process_flags.load(std::memory_order_relaxed); }

// State::active, kept in ThisProcess().
struct ActiveFlag {
  bool load(std::memory_order order = std::memory_order_seq_cst) const {
    return ThisProcess().active.load(order);
  }
  void store(bool on, std::memory_order order = std::memory_order_seq_cst) {
    ThisProcess().active.store(on, order);
  }
};

// Global state shared by the hooks, the recorder and the dumper.
struct State {
  Config config;
  // At rates of 64 KiB and above sampled objects are recognisable
  // without a header on every block: tagged over glibc (recorder.h), else
  // at offset 0 or 16 in a page, so any other pointer is known unsampled
  // with one AND (g_free_probe_mask == kRecognisableMask). Below, every
  // block has a header (g_headers) and every free reads it (mask 0).
  bool align_sampled = true;
  bool real_is_glibc = false;  // the next allocator in line is glibc's
  // The program (or a library ahead of us) has its own malloc: our hooks
  // would see only the odd call, so the heap is not sampled at all.
  bool heap_shadowed = false;
  const char* heap_shadowed_by = nullptr;  // the file whose malloc comes first
  ActiveFlag active;                       // recording on (ThisProcess().active)
  // The program installed a seccomp filter (BeforeSeccompFilter, dumper.h):
  // sandboxed, the runtime stands aside; filtered, it binds some of the
  // program's threads but not the runtime's, which write for the process.
  std::atomic<bool> sandboxed{false};
  std::atomic<bool> filtered{false};
  uintptr_t self_begin = 0;         // our own code, stripped from stacks
  uintptr_t self_end = 0;
  // The code of the next allocator in line when it is not glibc's
  // (jemalloc, tcmalloc preloaded after us): the mappings it makes for its
  // arenas are its heap, which the heap profile already covers.
  uintptr_t allocator_begin = 0;
  uintptr_t allocator_end = 0;
  int pid = 0;
  bool is_main_process = true;  // plain file names; children use pid names
  uint64_t start_ns = 0;

  // The runtime's own threads (dump thread, HTTP server): left out of the
  // thread and CPU profiles.
  std::atomic<int32_t> dump_tid{0};
  std::atomic<int32_t> http_tid{0};

  // Samples recorded by threads without a table of pending counts (see
  // SamplesRecorded in recorder.h for them all).
  base::StripedCounter samples;
  // The profiler's own time recording allocations and frees (RecordTimer in
  // recorder.cc), in TSC ticks; RecordNs() converts.
  base::StripedCounter record_ticks;
  uint64_t start_tsc = 0;                    // read with start_ns, to convert ticks
  std::atomic<uint64_t> dropped_stacks{0};   // stack depot full
  std::atomic<uint64_t> dropped_live{0};     // live table full
  std::atomic<uint64_t> dropped_deferred{0};  // signal handler's queue full
  // Objects recorded without an age: the live table was full while blocks
  // had headers, which keep their counts (not a drop).
  std::atomic<uint64_t> objects_without_age{0};
  std::atomic<bool> warned_drop{false};
  // Unbiased estimates in 1/256 units, for peak tracking.
  std::atomic<int64_t> inuse_bytes_fx{0};
  std::atomic<int64_t> peak_inuse_bytes_fx{0};
};

extern State g_state;
// Inline: the hooks' slow paths read it on every sample.
inline State& GlobalState() { return g_state; }

// Per-thread state in initial-exec TLS: no __tls_get_addr on the hot path.
struct ThreadState {
  uint64_t bytes_until_sample;  // 0 until the thread's first slow path
  uint64_t rng;
  uint32_t guard;  // >0 while inside the profiler's own code
  uint32_t initialized;
  uint32_t in_hook;  // >0 inside a hook's recording section (deferred.h)
  uint32_t deferred;  // entries in this thread's deferred queue (deferred.cc)
  uint32_t timed;     // records seen, for timing one in 64 (recorder.cc)
  // With block headers at a sampled rate: bytes to the next sample
  // (bytes_until_sample stays 0 there, so that every allocation takes the
  // slow path that puts the header on). sampler.h.
  uint64_t header_until_sample;
};
extern __thread ThreadState tls_state __attribute__((tls_model("initial-exec")));

// True in the runtime's own threads (the dump thread, the live
// endpoint's), which they set as they start.
extern __thread bool tls_runtime_thread __attribute__((tls_model("initial-exec")));

// Witness that the current thread is inside the profiler: allocations it
// makes pass straight to the real allocator and are never recorded.
class RecursionGuard {
 public:
  RecursionGuard() { tls_state.guard++; }
  ~RecursionGuard() { tls_state.guard--; }
  RecursionGuard(const RecursionGuard&) = delete;
  RecursionGuard& operator=(const RecursionGuard&) = delete;
};

// Initialises the runtime once: real functions, configuration, tables,
// dump thread. Safe to call from any hook; re-entrant calls return false
// while initialisation is in progress.
bool EnsureInitialized();

void WarnDropOnce(const char* what);
// With block headers a full live table costs objects their ages, not their
// counts: said once, with what to raise (apart from WarnDropOnce's once,
// so that a drop that follows is still warned about).
void WarnNoAgesOnce();

// Starts one of the runtime's own threads (the dump thread, the live
// endpoint's): detached, with every signal blocked so that the program's
// signals never land on it. True when it started.
bool StartOwnThread(pthread_t* thread, void* (*fn)(void*), void* arg, size_t stack_size);

// The runtime's fork handlers, registered with pthread_atfork and kept
// here too, so that a child made by the program's own clone system call
// (the syscall hook, interpose/syscall_hook.cc) gets them as well: prepare
// in the reverse order of registration, parent and child in that order,
// as glibc runs them.
void RegisterForkHandlers(void (*prepare)(), void (*parent)(), void (*child)());
enum class ForkPhase { kPrepare, kParent, kChild };
void RunForkHandlers(ForkPhase phase);
// True in a child made by the program's own clone system call, while its
// fork handlers run: glibc's own state was not made ready for it as fork()
// does (its cached thread id is the parent's, its locks as the clone found
// them), so the runtime starts no thread there.
bool InRawCloneChild();

// True once thread `tid` of this process is gone for the kernel (within
// timeout_ns): a detached thread leaves its thread group shortly after its
// start routine returns.
bool WaitThreadGone(int32_t tid, uint64_t timeout_ns);

}  // namespace heapscope::runtime
