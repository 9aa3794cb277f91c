#include "runtime/recorder.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <x86intrin.h>

#include "base/lazy_thread_key.h"
#include "base/mmap_arena.h"
#include "base/no_destructor.h"
#include "base/spinlock.h"
#include "platform/modules.h"
#include "runtime/real_functions.h"
#include "runtime/sampler.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {

platform::ModuleTable& Modules();

uint8_t* g_page_filter = nullptr;

namespace {

base::NoDestructor<StackDepot> g_depot;
base::NoDestructor<LiveTable> g_live;

// In every-allocation mode a freed pointer is almost always in the live
// table, so looking for its absence first is wasted work.
bool EveryAllocation() { return !GlobalState().align_sampled; }

// Pages that may hold a live sampled object: a counting filter, one byte
// per page number modulo 2^kFilterBits (saturated counters stay put).
// free() of a page-aligned pointer asks it before the live table. Glibc
// hands out unsampled blocks at a page's start far more often than chance:
// the chunk a freed sampled block leaves on a page boundary is reused again
// and again (through its thread cache), so a probe of the table for each
// would cost more than the sampling itself. Only when sampled objects are
// page-aligned (in every-allocation mode every pointer is in the table
// anyway). Indexed by the page number itself rather than a hash of it, a
// heap's pages share the filter's cache lines (64 pages a line), so the
// part of the filter a program's frees touch stays in cache: with a hash
// every probe missed (bench-mixed at the default rate, perf: this path
// 1.3-1.5% of cycles before, 0.5-0.7% after). Pages 4 GiB apart share a
// counter, which costs only a probe of the live table.
HS_ALWAYS_INLINE uint8_t* FilterSlot(uintptr_t p) { return PageFilterSlot(p); }

// A tagged block is never in the filter: its tag says it is a sample.
void FilterAdd(uintptr_t p) {
  if (g_page_filter == nullptr || IsTagged(reinterpret_cast<const void*>(p))) return;
  uint8_t* c = FilterSlot(p);
  uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
  while (v != 255 && !__atomic_compare_exchange_n(c, &v, static_cast<uint8_t>(v + 1), true,
                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// Asks for the line FilterAdd(p) will write.
HS_ALWAYS_INLINE void FilterPrefetch(uintptr_t p) {
  if (g_page_filter == nullptr || IsTagged(reinterpret_cast<const void*>(p))) return;
  __builtin_prefetch(FilterSlot(p), 1);
}

void FilterRemove(uintptr_t p) {
  if (g_page_filter == nullptr || IsTagged(reinterpret_cast<const void*>(p))) return;
  uint8_t* c = FilterSlot(p);
  uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
  while (v != 255 && v != 0 &&
         !__atomic_compare_exchange_n(c, &v, static_cast<uint8_t>(v - 1), true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// A tagged block is in the table (unless it was full): no filter to ask,
// no lock-free look for its absence first.
bool RemoveLive(uintptr_t p, LiveEntry* e) {
  bool tagged = IsTagged(reinterpret_cast<const void*>(p));
  if (!tagged && !MayBeLiveSample(reinterpret_cast<const void*>(p))) return false;
  if (!g_live->Remove(p, e, EveryAllocation() || tagged)) return false;
  FilterRemove(p);
  return true;
}

// The process-wide in-use estimate and its peak. Threads batch their
// changes (up to kInuseBatch bytes either way) so that every-allocation
// mode does not bounce one cache line between all threads; the peak is
// therefore exact to within kInuseBatch per thread, and the dump takes the
// larger of it and the in-use total it adds up from the stacks.
constexpr int64_t kInuseBatch = 64 * 1024 * static_cast<int64_t>(kWeightOne);
__thread int64_t tls_inuse_pending __attribute__((tls_model("initial-exec")));

void UpdateInuse(int64_t delta) {
  int64_t pending = tls_inuse_pending + delta;
  if (pending < kInuseBatch && pending > -kInuseBatch) {
    tls_inuse_pending = pending;
    return;
  }
  tls_inuse_pending = 0;
  State& g = GlobalState();
  int64_t now = g.inuse_bytes_fx.fetch_add(pending, std::memory_order_relaxed) + pending;
  int64_t peak = g.peak_inuse_bytes_fx.load(std::memory_order_relaxed);
  while (now > peak &&
         !g.peak_inuse_bytes_fx.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void AddToStack(StackCounters& c, uint64_t alloc_objects, uint64_t alloc_bytes,
                uint64_t free_objects, uint64_t free_bytes) {
  if (alloc_objects != 0) c.alloc_objects.fetch_add(alloc_objects, std::memory_order_relaxed);
  if (alloc_bytes != 0) c.alloc_bytes.fetch_add(alloc_bytes, std::memory_order_relaxed);
  if (free_objects != 0) c.free_objects.fetch_add(free_objects, std::memory_order_relaxed);
  if (free_bytes != 0) c.free_bytes.fetch_add(free_bytes, std::memory_order_relaxed);
}

// ---- Per-thread pending counts ----
//
// Every recorded allocation and free adds to its stack's counters. Threads
// allocating from the same stacks would bounce those cache lines between
// them at every call (in every-allocation mode, the largest cost with a
// few threads), so each thread adds into a direct-mapped table of its own,
// and whoever reads the stacks' counters first moves the tables' counts
// into them (FlushPendingCounts). A thread's table is flushed and handed
// to the next new thread when it ends (a thread-specific key's
// destructor). Tables are never unmapped (the slots a table outgrew are).
//
// A thread does not add to its slots as it goes: it appends (stack,
// weight, bytes) to a log of kLogEvents in its table and publishes the log's end, without
// a lock; the log is applied to the slots when it is full (by the thread)
// or when a reader flushes the table, under the table's lock either way.
// Each update would otherwise wait for its slot's cache line alone, after
// the stack lookup's own miss; applied in a batch, the slots' lines are
// all asked for first and arrive together. bench-mixed at rate 1: a lock
// and an update per event, 3.09x CPU; no lock (a seqlock), 3.02x; the log,
// see bench/results/2026-12-06-rate1-walk-hash-and-log.md.
//
// Sampled, a thread records a few stacks a second: 64 slots. Recording
// every allocation, a thread goes through as many stacks as the program
// has, and a table smaller than that gives a slot to another stack at most
// updates: a move of its counts (four atomic adds on a line the other
// threads add to as well). Stack ids are handed out in order from 1, so a
// table with more slots than the program has stacks never does: in
// every-allocation mode a table starts at 4096 slots (160 KiB, touched as
// used) and doubles, up to kPendingSlotsMax, when a stack id beyond it
// comes. bench-mixed at rate 1 (5376 stacks): 4096 slots took it from
// 4.57x to 4.23x CPU (1024: 4.35x); growing past 4096, 3.44x -> 3.14x.
constexpr size_t kPendingSlotsSampled = 64;
constexpr size_t kPendingSlotsEvery = 4096;
constexpr size_t kPendingSlotsMax = size_t{1} << 18;  // 10 MiB mapped a thread, at most
constexpr uint32_t kLogEvents = 256;

struct PendingSlot {
  StackId id;  // 0: empty
  uint64_t alloc_objects, alloc_bytes, free_objects, free_bytes;
};

struct PendingEvent {
  uint64_t weight;  // SampleWeight(size), as the thread worked it out
  uint64_t bytes;   // size * weight
  StackId id;
  uint32_t alloc;  // 1: an allocation, 0: a free
};

struct alignas(64) PendingTable {
  base::SpinLock lock;
  std::atomic<bool> in_use;
  uint32_t mask;       // slots - 1 (changed under the lock)
  bool full_size;      // not to grow: sampled, at kPendingSlotsMax, or no memory
  PendingTable* next;  // all tables, newest first (set before publishing)
  PendingSlot* slots;  // a mapping of its own (replaced under the lock)
  uint64_t samples;    // samples its threads recorded (atomic accesses; the owner writes)
  // The log: events [applied, logged) are in log[i % kLogEvents]. The
  // owner writes events and `logged` (release); `applied` moves under the
  // lock, after the events are read.
  std::atomic<uint32_t> logged;
  std::atomic<uint32_t> applied;
  PendingEvent log[kLogEvents];
};

std::atomic<PendingTable*> g_tables{nullptr};
constinit base::LazyThreadKey g_table_key;
__thread PendingTable* tls_table __attribute__((tls_model("initial-exec")));
// The thread's key destructor ran: it ends, and gets no new table.
__thread bool tls_table_released __attribute__((tls_model("initial-exec")));

void FlushSlot(PendingSlot& e) {
  if (e.id == 0) return;
  AddToStack(g_depot->Counters(e.id), e.alloc_objects, e.alloc_bytes, e.free_objects,
             e.free_bytes);
  e = PendingSlot{};
}

// Every-allocation mode: a table with room for stack id `id` without
// sharing a slot, if it can be had (else the table stays as it is, and is
// not grown again). Under t->lock. The pending counts move to their slots
// in the new table: ids apart in the old one's bits are apart in the new
// one's.
HS_NOINLINE void GrowTable(PendingTable* t, StackId id) {
  size_t slots = size_t{t->mask} + 1;
  while (slots <= id && slots < kPendingSlotsMax) slots *= 2;
  auto* bigger = static_cast<PendingSlot*>(base::MapPages(slots * sizeof(PendingSlot)));
  if (bigger == nullptr) {
    t->full_size = true;
    return;
  }
  if (slots == kPendingSlotsMax) t->full_size = true;
  size_t old_slots = size_t{t->mask} + 1;
  for (size_t i = 0; i < old_slots; i++) {
    const PendingSlot& e = t->slots[i];
    if (e.id != 0) bigger[e.id & (slots - 1)] = e;
  }
  base::UnmapPages(t->slots, old_slots * sizeof(PendingSlot));
  t->slots = bigger;
  t->mask = static_cast<uint32_t>(slots - 1);
}

// Under t->lock: the logged events, added to their slots.
void ApplyLogLocked(PendingTable* t) {
  uint32_t begin = t->applied.load(std::memory_order_relaxed);
  uint32_t end = t->logged.load(std::memory_order_acquire);
  if (begin == end) return;
  for (uint32_t i = begin; i != end; i++) {
    StackId id = t->log[i % kLogEvents].id;
    if (HS_UNLIKELY(id > t->mask) && !t->full_size) GrowTable(t, id);
    __builtin_prefetch(&t->slots[id & t->mask], 1);
  }
  for (uint32_t i = begin; i != end; i++) {
    const PendingEvent& ev = t->log[i % kLogEvents];
    PendingSlot& e = t->slots[ev.id & t->mask];
    if (e.id != ev.id) {
      FlushSlot(e);
      e.id = ev.id;
    }
    if (ev.alloc != 0) {
      e.alloc_objects += ev.weight;
      e.alloc_bytes += ev.bytes;
    } else {
      e.free_objects += ev.weight;
      e.free_bytes += ev.bytes;
    }
  }
  // The owner may write over these events from now on.
  t->applied.store(end, std::memory_order_release);
}

void FlushTableLocked(PendingTable* t) {
  ApplyLogLocked(t);
  for (uint32_t i = 0; i <= t->mask; i++) FlushSlot(t->slots[i]);
}

void ReleaseTable(void* p) {
  auto* t = static_cast<PendingTable*>(p);
  {
    base::SpinLockHolder hold(t->lock);
    FlushTableLocked(t);
  }
  tls_table = nullptr;
  tls_table_released = true;
  t->in_use.store(false, std::memory_order_release);
}


// The calling thread's table, made or reused on first use; nullptr when
// there is none to be had (the caller adds to the stack directly).
HS_NOINLINE PendingTable* AcquireTable() {
  // Without the key yet (being made by another thread, or failed), the
  // caller goes without a table.
  if (tls_table_released || !g_table_key.Ready(ReleaseTable, /*wait=*/false)) return nullptr;
  PendingTable* t = nullptr;
  for (PendingTable* c = g_tables.load(std::memory_order_acquire); c != nullptr; c = c->next) {
    bool free = false;
    if (c->in_use.compare_exchange_strong(free, true, std::memory_order_acq_rel)) {
      t = c;
      break;
    }
  }
  if (t == nullptr) {
    size_t slots = EveryAllocation() ? kPendingSlotsEvery : kPendingSlotsSampled;
    t = static_cast<PendingTable*>(base::MapPages(sizeof(PendingTable)));
    if (t == nullptr) return nullptr;
    t->slots = static_cast<PendingSlot*>(base::MapPages(slots * sizeof(PendingSlot)));
    if (t->slots == nullptr) {
      base::UnmapPages(t, sizeof(PendingTable));
      return nullptr;
    }
    t->mask = static_cast<uint32_t>(slots - 1);
    t->full_size = !EveryAllocation();  // only every-allocation tables grow
    t->in_use.store(true, std::memory_order_relaxed);
    PendingTable* head = g_tables.load(std::memory_order_relaxed);
    do {
      t->next = head;
    } while (!g_tables.compare_exchange_weak(head, t, std::memory_order_release,
                                             std::memory_order_relaxed));
  }
  // Keys past the first block make glibc allocate: ours, under the caller's
  // guard, so never recorded.
  if (pthread_setspecific(g_table_key.key(), t) != 0) {
    t->in_use.store(false, std::memory_order_release);
    return nullptr;
  }
  tls_table = t;
  return t;
}

// `sample`: the allocation is a sample (counted in samples=).
void Account(StackId id, uint64_t size, bool alloc, bool sample = false) {
  if (id == 0) return;
  uint64_t w = SampleWeight(size);
  uint64_t bytes = size * w;
  UpdateInuse(alloc ? static_cast<int64_t>(bytes) : -static_cast<int64_t>(bytes));
  PendingTable* t = tls_table;
  if (HS_UNLIKELY(t == nullptr)) t = AcquireTable();
  if (HS_UNLIKELY(t == nullptr)) {
    if (sample) GlobalState().samples.Add(1);
    if (alloc) {
      AddToStack(g_depot->Counters(id), w, bytes, 0, 0);
    } else {
      AddToStack(g_depot->Counters(id), 0, 0, w, bytes);
    }
    return;
  }
  if (sample) __atomic_store_n(&t->samples, t->samples + 1, __ATOMIC_RELAXED);
  uint32_t n = t->logged.load(std::memory_order_relaxed);
  if (HS_UNLIKELY(n - t->applied.load(std::memory_order_acquire) == kLogEvents)) {
    base::SpinLockHolder hold(t->lock);
    ApplyLogLocked(t);
  }
  t->log[n % kLogEvents] = PendingEvent{w, bytes, id, alloc ? 1u : 0u};
  t->logged.store(n + 1, std::memory_order_release);
}

}  // namespace

uint64_t SamplesRecorded() {
  uint64_t n = GlobalState().samples.load();
  for (PendingTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    n += __atomic_load_n(&t->samples, __ATOMIC_RELAXED);
  }
  return n;
}

void FlushPendingCounts() {
  for (PendingTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    // A thread stopped while applying its log (a signal handler waiting for
    // the final profile) would hold its lock for good: after a while, its
    // pending counts are left out of this profile.
    if (!t->lock.LockBounded()) continue;
    FlushTableLocked(t);
    t->lock.Unlock();
  }
}

void LockPendingCountsForFork() {
  for (PendingTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    t->lock.Lock();
  }
}

void UnlockPendingCountsAfterFork() {
  for (PendingTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    t->lock.Unlock();
  }
}

void ResetPendingCountsAfterFork() {
  for (PendingTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    t->lock.ResetAfterFork();
  }
}

StackDepot& Depot() { return *g_depot; }
LiveTable& Live() { return *g_live; }

bool InitRecorder(const Config& c) {
  g_depot.Construct();
  g_live.Construct();
  g_live->Init(c.max_live);
  if (GlobalState().align_sampled) {
    g_page_filter = static_cast<uint8_t*>(base::MapPages(size_t{1} << kFilterBits));
  }
  return g_depot->Init(c.max_stacks);
}

namespace {

// 1/p in fixed point, p = 1 - exp(-size/rate): the chance that an object of
// `size` bytes is sampled at a mean of `rate` bytes between samples.
uint64_t WeightAtRate(uint64_t size, uint64_t rate) {
  if (rate <= 1 || size == 0) return kWeightOne;
  double p = -expm1(-static_cast<double>(size) / static_cast<double>(rate));
  if (p <= 0) return kWeightOne;
  return static_cast<uint64_t>(static_cast<double>(kWeightOne) / p + 0.5);
}

}  // namespace

uint64_t SampleWeight(uint64_t size) { return WeightAtRate(size, GlobalState().config.rate); }

namespace {

// The stack's id, inserting it if new; 0 (counted) when the depot is full.
// `hash`: the stack's, from the walk (else worked out here).
HS_ALWAYS_INLINE StackId StackIdOf(const uintptr_t* frames, int depth, bool truncated,
                                   const StackHasher* hash = nullptr) {
  bool is_new = false;
  StackId id = g_depot->FindOrInsert(
      frames, depth, truncated,
      hash != nullptr ? hash->Finish(depth, truncated) : StackDepot::Hash(frames, depth, truncated),
      &is_new);
  if (id == 0) {
    GlobalState().dropped_stacks.fetch_add(1, std::memory_order_relaxed);
    WarnDropOnce("stack table full (raise HEAPSCOPE_MAX_STACKS)");
    return 0;
  }
  if (is_new) {
    // A new stack may run through a library loaded since we last looked;
    // record it now, so it still has a name after dlclose.
    for (int i = 0; i < depth; i++) {
      if (Modules().Find(frames[i]) == nullptr) {
        Modules().Refresh();
        break;
      }
    }
  }
  return id;
}

}  // namespace

namespace {

HS_ALWAYS_INLINE void RecordAllocImpl(void* p, size_t size, StackId id) {
  State& st = GlobalState();
  if (id == 0) return;
  LiveEntry replaced;
  switch (g_live->Insert(reinterpret_cast<uintptr_t>(p), LiveEntry{size, id, BirthNow()}, &replaced)) {
    case LiveTable::InsertResult::kFull:
      st.dropped_live.fetch_add(1, std::memory_order_relaxed);
      WarnDropOnce("live object table full (raise HEAPSCOPE_MAX_LIVE)");
      return;
    case LiveTable::InsertResult::kReplaced:
      // Its free happened where we could not see it.
      Account(replaced.stack, replaced.size, false);
      break;
    case LiveTable::InsertResult::kInserted:
      FilterAdd(reinterpret_cast<uintptr_t>(p));
      break;
  }
  Account(id, size, true, /*sample=*/true);
}

// Every-allocation mode with block headers: the live table keeps about one
// object per kAgeSampleRate bytes allocated, chosen like the sampled
// mode's samples (an exponential distance in bytes from the last), for
// the ages of in-use objects; the profile writer scales each stack's ages
// to its exact in-use counts.
constexpr uint64_t kAgeSampleRate = 128 * 1024;
__thread int64_t tls_age_countdown __attribute__((tls_model("initial-exec")));
__thread bool tls_age_drawn __attribute__((tls_model("initial-exec")));

HS_NOINLINE bool AgeSampleSlow(size_t size) {
  if (!tls_age_drawn) {
    // The thread's first distance is drawn like the others, so that its
    // first allocation is not always in the sample.
    tls_age_drawn = true;
    int64_t left =
        static_cast<int64_t>(RandomInterval(kAgeSampleRate)) - static_cast<int64_t>(size);
    if (left > 0) {
      tls_age_countdown = left;
      return false;
    }
  }
  tls_age_countdown = static_cast<int64_t>(RandomInterval(kAgeSampleRate));
  return true;
}

HS_ALWAYS_INLINE bool AgeSampleNow(size_t size) {
  int64_t left = tls_age_countdown - static_cast<int64_t>(size);
  if (HS_LIKELY(left > 0)) {
    tls_age_countdown = left;
    return false;
  }
  return AgeSampleSlow(size);
}

// A block with a header (g_headers), just allocated by this thread: every
// allocation in every-allocation mode, with an age sample of them in the
// live table; a sample of them at a low rate, every one in the live table
// as without headers. The leak report's persistence check needs a sample's
// age (a sample of the samples, one per 128 KiB they stood for, left the
// 5 KB/s leak of e2e.leaks at rate 4K with about one age and unreported).
HS_ALWAYS_INLINE void RecordHeadered(void* p, size_t size, StackId id) {
  if (id == 0) return;
  BlockHeader* h = HeaderOf(p);
  h->size_stack = static_cast<uint64_t>(size) << kHeaderStackBits | id;
  if (GlobalState().config.rate > 1 || HS_UNLIKELY(AgeSampleNow(size))) {
    LiveEntry replaced;
    switch (g_live->Insert(reinterpret_cast<uintptr_t>(p), LiveEntry{size, id, BirthNow()},
                           &replaced)) {
      case LiveTable::InsertResult::kFull:
        GlobalState().objects_without_age.fetch_add(1, std::memory_order_relaxed);
        WarnNoAgesOnce();
        break;  // this one goes without an age
      case LiveTable::InsertResult::kReplaced:
        Account(replaced.stack, replaced.size, false);  // its free was not seen
        h->flags |= kInLive;
        break;
      case LiveTable::InsertResult::kInserted:
        h->flags |= kInLive;
        break;
    }
  }
  Account(id, size, true, /*sample=*/true);
}

}  // namespace

uint64_t AgeSampleWeight(uint64_t size) {
  return g_headers && GlobalState().config.rate <= 1 ? WeightAtRate(size, kAgeSampleRate)
                                                     : SampleWeight(size);
}

void RecordAllocAt(const RecursionGuard&, void* p, size_t size, const uintptr_t* frames, int depth,
                   bool truncated) {
  RecordAllocImpl(p, size, StackIdOf(frames, depth, truncated));
}

namespace {

// Times a record with the TSC (two reads, against ~1-2 us of work for a
// sample). In every-allocation mode records cost ~80 ns, so one in 64 is
// timed and counted 64 times.
class RecordTimer {
 public:
  RecordTimer() {
    if (EveryAllocation()) {
      if ((++tls_state.timed & 63) != 0) return;
      weight_ = 64;
    } else {
      weight_ = 1;
    }
    start_ = __rdtsc();
  }
  ~RecordTimer() {
    if (weight_ != 0) GlobalState().record_ticks.Add((__rdtsc() - start_) * weight_);
  }
  RecordTimer(const RecordTimer&) = delete;
  RecordTimer& operator=(const RecordTimer&) = delete;

 private:
  uint64_t start_ = 0;
  uint64_t weight_ = 0;  // 0: not timed
};

}  // namespace

namespace {

// Nanoseconds per TSC tick, from the TSC's pace against CLOCK_MONOTONIC
// since start; 0 while unknown.
double NsPerTick() {
  const State& g = GlobalState();
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL +
                static_cast<uint64_t>(ts.tv_nsec) - g.start_ns;
  uint64_t ticks = __rdtsc() - g.start_tsc;
  if (ns == 0 || ticks == 0) return 0;
  return static_cast<double>(ns) / static_cast<double>(ticks);
}

}  // namespace

uint64_t RecordNs() {
  return static_cast<uint64_t>(static_cast<double>(GlobalState().record_ticks.load()) *
                               NsPerTick());
}

uint32_t BirthNow() {
  return static_cast<uint32_t>((__rdtsc() - GlobalState().start_tsc) >> kBirthShift);
}

double BirthUnitSeconds() {
  return NsPerTick() * static_cast<double>(uint64_t{1} << kBirthShift) / 1e9;
}

// The stack id of this thread's last recorded allocation, and the number of
// the remembered walk it came from: a loop allocating from one place finds
// its stack without hashing and comparing it again.
struct LastStack {
  uint64_t walk_serial;
  StackId id;
};
__thread LastStack tls_last_stack __attribute__((tls_model("initial-exec")));

void RecordAlloc(const RecursionGuard& g, void* p, size_t size) {
  RecordTimer timer;
  if (GlobalState().config.rate > 1) {
    // The live table's slot and the page filter's counter, wanted after the
    // walk (every sample goes to the table, with or without headers, but in
    // every-allocation mode): asked for now, they arrive during it (perf,
    // bench-mixed at the default rate: LiveTable::Insert from 59-73 samples
    // in 10k to below the top eight, the runtime's share from 9-10% to 7-8%).
    g_live->Prefetch(reinterpret_cast<uintptr_t>(p));
    FilterPrefetch(reinterpret_cast<uintptr_t>(p));
  }
  uintptr_t frames[kMaxFrames];
  bool truncated = false;
  WalkInfo walk;
  int depth = CaptureStack(g, frames, kMaxFrames, &truncated, &walk);
  LastStack& last = tls_last_stack;
  StackId id;
  if (walk.same_as_last && last.id != 0 && walk.serial == last.walk_serial + 1) {
    id = last.id;
  } else {
    id = StackIdOf(frames, depth, truncated, walk.hashed ? &walk.hash : nullptr);
  }
  last = LastStack{walk.serial, walk.serial != 0 ? id : 0};
  if (g_headers) {
    RecordHeadered(p, size, id);
  } else {
    RecordAllocImpl(p, size, id);
  }
}

void RecordAllocFreed(const RecursionGuard&, size_t size, const uintptr_t* frames, int depth,
                      bool truncated) {
  StackId id = StackIdOf(frames, depth, truncated);
  if (id == 0) return;
  Account(id, size, true, /*sample=*/true);
  Account(id, size, false);
}

void RecordFree(const RecursionGuard& g, void* p) {
  RecordTimer timer;
  LiveEntry e;
  if (g_headers) {
    const BlockHeader* h = HeaderOf(p);
    if ((h->flags & kInLive) == 0) {
      Account(static_cast<StackId>(h->size_stack & kHeaderStackMask),
              h->size_stack >> kHeaderStackBits, false);
      return;
    }
  }
  if (RemoveLive(reinterpret_cast<uintptr_t>(p), &e)) Account(e.stack, e.size, false);
}

void FreeTagged(void* p) {
  void* base = TaggedBase(p);
  static_cast<uint64_t*>(p)[-2] = 0;
  real.free(base);
}

void FreeBlock(void* p) {
  if (IsTagged(p)) return FreeTagged(p);
  real.free(g_headers && HasHeader(p) ? BlockBase(p) : p);
}

bool TakeLive(const RecursionGuard&, void* p, LiveEntry* e) {
  return RemoveLive(reinterpret_cast<uintptr_t>(p), e);
}

void AccountFree(const LiveEntry& e) { Account(e.stack, e.size, false); }

void RestoreLive(void* p, const LiveEntry& e) {
  LiveEntry replaced;
  if (g_live->Insert(reinterpret_cast<uintptr_t>(p), e, &replaced) ==
      LiveTable::InsertResult::kInserted) {
    FilterAdd(reinterpret_cast<uintptr_t>(p));
  }
}

}  // namespace heapscope::runtime
