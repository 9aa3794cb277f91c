#include "runtime/thread_stacks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "base/clock.h"
#include "base/raw_log.h"
#include "runtime/cfi_unwind.h"
#include "runtime/proc_dir.h"
#include "runtime/symbol_cache.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {
namespace {

// One answer slot per thread asked. The slots live for the life of the
// process: a late answer to an earlier request still finds mapped memory,
// and its generation tells it that nobody waits for it any more.
constexpr size_t kMaxThreadSlots = 4096;
constexpr uint64_t kAnswerTimeoutNs = 1000000000ULL;  // all threads together
constexpr uint64_t kWritingGraceNs = 50000000ULL;     // an answer being copied

enum : uint64_t { kIdle = 0, kPending = 1, kWriting = 2, kDone = 3 };

struct Slot {
  std::atomic<uint64_t> state;  // generation << 2 | kIdle..kDone
  int depth;
  bool truncated;
  uintptr_t frames[kMaxFrames];
};

std::atomic<Slot*> g_slots{nullptr};
uint64_t g_generation = 0;  // the asking thread's alone
int g_signal = 0;

constexpr const char* kSignalBlocked = "[signal blocked]";
constexpr const char* kNoAnswer = "[no answer]";
constexpr const char* kTooMany = "[too many threads]";
constexpr const char* kInRuntime = "[in heapscope]";
// Walked without a signal, up to a frame the walk could not cross.
constexpr const char* kWalkCut = "[not interrupted: outer frames unknown]";

using base::MonoNs;

void OnThreadStackSignal(int, siginfo_t* info, void* uc) {
  int saved = errno;
  // Only our own requests: queued by this process, naming a slot.
  if (info->si_code != SI_QUEUE || info->si_pid != getpid()) {
    errno = saved;
    return;
  }
  auto v = reinterpret_cast<uintptr_t>(info->si_value.sival_ptr);
  size_t index = v & 0xffff;
  uint64_t gen = v >> 16;
  Slot* slots = g_slots.load(std::memory_order_acquire);
  if (slots == nullptr || index >= kMaxThreadSlots) {
    errno = saved;
    return;
  }
  Slot& s = slots[index];
  uint64_t expected = gen << 2 | kPending;
  if (s.state.load(std::memory_order_acquire) == expected) {
    uintptr_t frames[kMaxFrames];
    bool truncated = false;
    int depth = 0;
    // Inside the runtime (a hook, perhaps mid-unwind) the unwinder is not
    // entered again: the answer is then an empty stack, marked.
    if (tls_state.guard == 0) {
      RecursionGuard guard;
      depth = CaptureSignalStack(uc, frames, kMaxFrames, &truncated);
    }
    if (s.state.compare_exchange_strong(expected, gen << 2 | kWriting, std::memory_order_acq_rel)) {
      memcpy(s.frames, frames, static_cast<size_t>(depth) * sizeof frames[0]);
      s.depth = depth;
      s.truncated = truncated;
      s.state.store(gen << 2 | kDone, std::memory_order_release);
    }
  }
  errno = saved;
}

// A number at *p (after spaces; base 10, or 16 with or without 0x), moving
// *p past it.
uint64_t ParseNumber(const char** p, int base) {
  const char* s = *p;
  while (*s == ' ') s++;
  if (base == 16 && s[0] == '0' && s[1] == 'x') s += 2;
  uint64_t v = 0;
  for (;; s++) {
    int d = *s >= '0' && *s <= '9'                                   ? *s - '0'
            : base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f' ? (*s | 0x20) - 'a' + 10
                                                                     : -1;
    if (d < 0) break;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  *p = s;
  return v;
}

// Whether thread tid blocks sig, from its /proc status.
bool SignalBlocked(int32_t tid, int sig) {
  char buf[4096];
  ReadTaskFile(tid, "status", buf, sizeof buf);
  const char* p = strstr(buf, "\nSigBlk:");
  if (p == nullptr) return false;
  p += 8;
  while (*p == '\t') p++;
  uint64_t mask = ParseNumber(&p, 16);
  return (mask >> (sig - 1) & 1) != 0;
}

// A thread inside a signal handler blocks what the handler's mask says
// until it returns: the CPU profiler's own handler, say, blocks every
// signal while it runs, every tick. Such a thread is read again a few
// times within about a millisecond before it is reported blocked (a thread
// that blocks the signal for good costs the dump that millisecond).
constexpr int kBlockedRereads = 5;
constexpr long kBlockedRereadNs = 200 * 1000;

bool StillBlocked(int32_t tid, int sig) {
  for (int i = 0; i < kBlockedRereads; i++) {
    struct timespec ts = {0, kBlockedRereadNs};
    nanosleep(&ts, nullptr);
    if (!SignalBlocked(tid, sig)) return false;
  }
  return true;
}

// Name, state and whether sig is blocked, from /proc. False if the thread
// is gone.
bool ReadTask(int32_t tid, int sig, ThreadStack* t, bool* blocked) {
  t->state = ReadThreadState(tid);
  if (t->state == 0 || t->state == 'Z' || t->state == 'X') return false;
  ReadThreadName(tid, t->name, sizeof t->name);
  *blocked = SignalBlocked(tid, sig);
  return true;
}

// System calls the kernel never restarts after a signal handler ran,
// whatever SA_RESTART says (signal(7)): asked with a signal, a thread
// blocked in one would get EINTR (pause and sigsuspend would return).
bool NeverRestarted(long nr) {
  switch (nr) {
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_rt_sigtimedwait:
    case SYS_semop:
    case SYS_semtimedop:
    case SYS_msgsnd:
    case SYS_msgrcv:
    case SYS_io_getevents:
#ifdef SYS_io_pgetevents
    case SYS_io_pgetevents:
#endif
#ifdef SYS_io_uring_enter
    case SYS_io_uring_enter:
#endif
    case SYS_recvmmsg:
      return true;
    default:
      return false;
  }
}

// /proc/self/task/TID/WHAT when it starts with a number, else nullptr.
const char* ReadTaskNumbers(int32_t tid, const char* what, char* buf, size_t cap) {
  size_t len = ReadTaskFile(tid, what, buf, cap);
  return len == 0 || buf[0] < '0' || buf[0] > '9' ? nullptr : buf;
}

// Where thread tid stopped in a system call: "NR a1 .. a6 SP PC" in
// /proc/self/task/TID/syscall (NR decimal, the rest hex). False when it is
// running, not in a call ("-1 SP PC"), or the file does not read.
struct Stopped {
  long nr;
  uintptr_t sp, pc;
};
bool StoppedIn(int32_t tid, Stopped* s) {
  char buf[256];
  const char* p = ReadTaskNumbers(tid, "syscall", buf, sizeof buf);
  if (p == nullptr) return false;
  s->nr = static_cast<long>(ParseNumber(&p, 10));
  for (int i = 0; i < 6; i++) ParseNumber(&p, 16);
  s->sp = ParseNumber(&p, 16);
  s->pc = ParseNumber(&p, 16);
  return s->sp != 0 && s->pc != 0;
}

// The thread's CPU time so far (first field of /proc/self/task/TID/schedstat):
// unchanged across the walk means the thread did not run meanwhile.
bool RunTime(int32_t tid, uint64_t* ns) {
  char buf[128];
  const char* p = ReadTaskNumbers(tid, "schedstat", buf, sizeof buf);
  if (p == nullptr) return false;
  *ns = ParseNumber(&p, 10);
  return true;
}

pid_t g_self_pid = 0;

// One word of this process's memory, or false where nothing is mapped
// (process_vm_readv on ourselves: a fault becomes an error).
bool ReadOwnWord(uintptr_t addr, uintptr_t* out) {
  struct iovec local = {out, sizeof *out};
  struct iovec remote = {reinterpret_cast<void*>(addr), sizeof *out};
  return syscall(SYS_process_vm_readv, g_self_pid, &local, 1, &remote, 1, 0) ==
         static_cast<long>(sizeof *out);
}

// Walks thread tid without a signal when it is stopped in a system call
// (any call when `any`, else only those a handler would break), and keeps
// the walk only if the thread did not run while it was read. False: ask
// it with the signal as usual (or report it blocked).
bool WalkStopped(int32_t tid, bool any, ThreadStack* t) {
  Stopped before;
  if (!StoppedIn(tid, &before) || (!any && !NeverRestarted(before.nr))) return false;
  uint64_t run_before = 0, run_after = 0;
  bool timed = RunTime(tid, &run_before);
  g_self_pid = getpid();
  bool complete = false;
  int depth = CfiBacktraceFrom(before.pc, before.sp, ReadOwnWord, t->frames, kMaxFrames, &complete);
  if (depth <= 0) return false;
  Stopped after;
  if (!StoppedIn(tid, &after) || after.nr != before.nr || after.sp != before.sp ||
      after.pc != before.pc) {
    return false;
  }
  if (timed && (!RunTime(tid, &run_after) || run_after != run_before)) return false;
  t->depth = depth;
  t->truncated = !complete && depth == kMaxFrames;
  if (!complete && !t->truncated) t->pseudo = kWalkCut;
  t->walked = true;
  return true;
}

bool IsOwnThread(int32_t tid, int32_t self) {
  const State& g = GlobalState();
  return tid == self || tid == g.dump_tid.load(std::memory_order_relaxed) ||
         tid == g.http_tid.load(std::memory_order_relaxed);
}

// Installs the handler on first use; afterwards checks it is still ours.
const char* EnsureHandler(int sig) {
  struct sigaction old;
  if (sigaction(sig, nullptr, &old) != 0) return "cannot read the signal's handler";
  if ((old.sa_flags & SA_SIGINFO) != 0 && old.sa_sigaction == OnThreadStackSignal) return nullptr;
  if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) {
    return "the program has its own handler for the signal used to ask threads for their "
           "stacks (SIGRTMIN+6 or below); thread stacks are unavailable";
  }
  if (g_slots.load(std::memory_order_acquire) == nullptr) {
    void* mem = base::MapPages(kMaxThreadSlots * sizeof(Slot));
    if (mem == nullptr) return "out of memory for thread stacks";
    g_slots.store(static_cast<Slot*>(mem), std::memory_order_release);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnThreadStackSignal;
  sigfillset(&sa.sa_mask);
  // SA_RESTART: calls that can be restarted are, as for any handler.
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  if (sigaction(sig, &sa, nullptr) != 0) return "cannot install the signal handler";
  return nullptr;
}

}  // namespace

int ThreadStackSignal() {
  if (g_signal != 0) return g_signal;
  const Config& c = GlobalState().config;
  int sig = SIGRTMIN + 6;
  while (sig > SIGRTMIN && (sig == c.dump_signal || sig == c.http_signal)) sig--;
  g_signal = sig;
  return sig;
}

const char* CaptureThreadStacks(base::MmapBuffer* out, size_t* count) {
  *count = 0;
  int sig = ThreadStackSignal();
  if (const char* why = EnsureHandler(sig)) return why;
  Slot* slots = g_slots.load(std::memory_order_acquire);
  uint64_t gen = ++g_generation & ((uint64_t{1} << 44) - 1);
  const int32_t self = static_cast<int32_t>(syscall(SYS_gettid));
  const pid_t pid = getpid();

  // Ask every thread first, then wait for all the answers together.
  size_t n = 0;
  bool out_of_memory = false;
  bool listed = ForEachNumberedEntry("/proc/self/task", [&](int64_t v, int) {
    auto tid = static_cast<int32_t>(v);
    if (IsOwnThread(tid, self)) return true;
    ThreadStack t;
    memset(&t, 0, sizeof t);
    t.tid = tid;
    bool blocked = false;
    if (!ReadTask(tid, sig, &t, &blocked)) return true;
    if (n >= kMaxThreadSlots) {
      t.pseudo = kTooMany;
    } else if (WalkStopped(tid, blocked, &t)) {
      // Not signalled: stopped in a call a handler would break, or
      // blocking the signal; walked from where it stopped.
    } else if (blocked && StillBlocked(tid, sig)) {
      t.pseudo = kSignalBlocked;
    } else {
      Slot& s = slots[n];
      uint64_t cur = s.state.load(std::memory_order_acquire);
      // A slot still being written by a late answer is skipped for now.
      if ((cur & 3) == kWriting ||
          !s.state.compare_exchange_strong(cur, gen << 2 | kPending, std::memory_order_acq_rel)) {
        t.pseudo = kNoAnswer;
      } else {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = sig;
        si.si_code = SI_QUEUE;
        si.si_pid = pid;
        si.si_uid = getuid();
        si.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(gen << 16 | n));
        if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si) != 0) {
          uint64_t expect = gen << 2 | kPending;
          s.state.compare_exchange_strong(expect, gen << 2 | kIdle);
          if (errno == ESRCH) return true;  // ended meanwhile
          t.pseudo = kNoAnswer;
        }
      }
    }
    // Slot n answers for entry n while n < kMaxThreadSlots.
    if (!out->Append(&t, sizeof t)) {
      out_of_memory = true;
      return false;
    }
    n++;
    return true;
  });
  if (!listed) return "cannot read /proc/self/task";
  if (out_of_memory) return "out of memory for thread stacks";
  auto* threads = reinterpret_cast<ThreadStack*>(out->data());

  uint64_t deadline = MonoNs() + kAnswerTimeoutNs;
  for (;;) {
    bool waiting = false;
    for (size_t i = 0; i < n && i < kMaxThreadSlots; i++) {
      if (threads[i].pseudo != nullptr || threads[i].walked) continue;
      if (slots[i].state.load(std::memory_order_acquire) != (gen << 2 | kDone)) {
        waiting = true;
        break;
      }
    }
    if (!waiting || MonoNs() >= deadline) break;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
  for (size_t i = 0; i < n && i < kMaxThreadSlots; i++) {
    ThreadStack& t = threads[i];
    if (t.pseudo != nullptr || t.walked) continue;
    Slot& s = slots[i];
    uint64_t expect = gen << 2 | kPending;
    if (s.state.compare_exchange_strong(expect, gen << 2 | kIdle)) {
      t.pseudo = kNoAnswer;  // the signal is still pending, or lost
      continue;
    }
    uint64_t grace = MonoNs() + kWritingGraceNs;
    while (s.state.load(std::memory_order_acquire) == (gen << 2 | kWriting) && MonoNs() < grace) {
      sched_yield();
    }
    if (s.state.load(std::memory_order_acquire) != (gen << 2 | kDone)) {
      t.pseudo = kNoAnswer;
      continue;
    }
    t.depth = s.depth;
    t.truncated = s.truncated;
    memcpy(t.frames, s.frames, static_cast<size_t>(s.depth) * sizeof t.frames[0]);
    s.state.store(gen << 2 | kIdle, std::memory_order_release);
    if (t.depth == 0 && !t.truncated) t.pseudo = kInRuntime;
  }
  *count = n;
  return nullptr;
}

namespace {

bool SameStack(const ThreadStack& a, const ThreadStack& b) {
  return a.pseudo == b.pseudo && a.depth == b.depth && a.truncated == b.truncated &&
         memcmp(a.frames, b.frames, static_cast<size_t>(a.depth) * sizeof a.frames[0]) == 0;
}

// One "#\tPC\tfunction+off\tmodule" line per frame (debug=1).
void FrameLines(TextOut& o, const ThreadStack& t, SymbolCache* symbols, bool* refresh) {
  for (int i = 0; i < t.depth; i++) {
    uintptr_t pc = t.frames[i] - 1;
    char name[1024];
    uint64_t off;
    const char* module;
    bool found = DescribePc(symbols, pc, *refresh, name, sizeof name, &off, &module);
    *refresh = false;
    o.Str("#\t").Hex(pc).Char('\t').Str(name);
    if (found) o.Char('+').Hex(off);
    o.Char('\t').Str(module).Char('\n');
  }
  if (t.truncated) o.Str("#\t0x0\t[truncated]\t?\n");
  if (t.pseudo != nullptr) o.Str("#\t0x0\t").Str(t.pseudo).Str("\t?\n");
}

}  // namespace

bool WriteThreadsText(format::ByteSink* sink, const ThreadStack* t, size_t n, int debug,
                      SymbolCache* symbols) {
  TextOut o(sink);
  bool refresh = true;
  if (debug >= 2) {
    // Go's debug=2: every thread, its header line, then its stack.
    for (size_t i = 0; i < n; i++) {
      o.Str("thread ").Uint(static_cast<uint64_t>(t[i].tid)).Str(" \"").Str(t[i].name);
      o.Str("\" [").Str(ThreadStateName(t[i].state)).Str("]:\n");
      for (int f = 0; f < t[i].depth; f++) {
        uintptr_t pc = t[i].frames[f] - 1;
        char name[1024];
        uint64_t off;
        const char* module;
        bool found = DescribePc(symbols, pc, refresh, name, sizeof name, &off, &module);
        refresh = false;
        o.Str(name).Str(strchr(name, '(') != nullptr ? "\n\t" : "()\n\t").Str(module);
        if (found) o.Str(" +").Hex(off);
        o.Str(" pc=").Hex(pc).Char('\n');
      }
      if (t[i].truncated) o.Str("...additional frames elided...\n");
      if (t[i].pseudo != nullptr) o.Str(t[i].pseudo).Char('\n');
      o.Char('\n');
    }
    return o.ok();
  }
  // debug=1: threads grouped by identical stacks, largest group first.
  o.Str("threads profile: total ").Uint(n).Char('\n');
  base::MmapBuffer done_buf;
  if (!done_buf.Reserve(n + 1)) return false;
  for (size_t i = 0; i < n; i++) {
    uint8_t z = 0;
    (void)done_buf.Append(&z, 1);
  }
  uint8_t* done = done_buf.data();
  for (size_t printed = 0; printed < n;) {
    // The largest group not printed yet.
    size_t best = n, best_count = 0;
    for (size_t i = 0; i < n; i++) {
      if (done[i]) continue;
      size_t c = 0;
      for (size_t j = i; j < n; j++) {
        if (!done[j] && SameStack(t[i], t[j])) c++;
      }
      if (c > best_count) {
        best = i;
        best_count = c;
      }
      if (best_count > n - printed - i) break;
    }
    if (best == n) break;
    const ThreadStack& s = t[best];
    o.Uint(best_count).Str(" @");
    for (int f = 0; f < s.depth; f++) o.Char(' ').Hex(s.frames[f]);
    o.Char('\n');
    FrameLines(o, s, symbols, &refresh);
    o.Str("# threads:");
    for (size_t j = best; j < n; j++) {
      if (done[j] || !SameStack(s, t[j])) continue;
      done[j] = 1;
      printed++;
      o.Char(' ').Uint(static_cast<uint64_t>(t[j].tid)).Str(" \"").Str(t[j].name).Char('"');
    }
    o.Str("\n\n");
  }
  return o.ok();
}

bool WriteThreadsProfileGz(format::ByteSink* out, const ThreadStack* t, size_t n,
                           SymbolCache* symbols) {
  base::MmapBuffer buf;
  if (!buf.Reserve((n + 1) * sizeof(StackSample))) return false;
  auto* samples = reinterpret_cast<StackSample*>(buf.data());
  for (size_t i = 0; i < n; i++) {
    StackSample& s = samples[i];
    memset(&s, 0, sizeof s);
    s.frames = t[i].frames;
    s.depth = t[i].depth;
    s.truncated = t[i].truncated;
    s.pseudo = t[i].pseudo;
    s.values[0] = 1;
    s.labels[0] = ProfileLabel{"thread_name", t[i].name, 0};
    s.labels[1] = ProfileLabel{"tid", nullptr, t[i].tid};
    s.labels[2] = ProfileLabel{"state", ThreadStateName(t[i].state), 0};
    s.nlabels = 3;
  }
  StackProfile p{};
  p.sample_types[0][0] = "threads";
  p.sample_types[0][1] = "count";
  p.ntypes = 1;
  p.period_type[0] = "threads";
  p.period_type[1] = "count";
  p.samples = samples;
  p.nsamples = n;
  p.ncomments = 0;
  p.symbols = symbols;
  p.period = 1;
  return WriteStackProfileGz(out, p);
}

}  // namespace heapscope::runtime
