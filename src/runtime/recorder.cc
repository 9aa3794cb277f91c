#include "runtime/recorder.h"

#include <math.h>

#include "base/no_destructor.h"
#include "platform/modules.h"
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
// per hash of the page (saturated counters stay put). free() of a
// page-aligned pointer asks it before the live table. Glibc hands out
// unsampled blocks at a page's start far more often than chance: the chunk
// a freed sampled block leaves on a page boundary is reused again and again
// (through its thread cache), so a probe of the table for each would cost
// more than the sampling itself. Only when sampled objects are page-aligned
// (in every-allocation mode every pointer is in the table anyway).
HS_ALWAYS_INLINE uint8_t* FilterSlot(uintptr_t p) { return PageFilterSlot(p); }

void FilterAdd(uintptr_t p) {
  if (g_page_filter == nullptr) return;
  uint8_t* c = FilterSlot(p);
  uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
  while (v != 255 && !__atomic_compare_exchange_n(c, &v, static_cast<uint8_t>(v + 1), true,
                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

void FilterRemove(uintptr_t p) {
  if (g_page_filter == nullptr) return;
  uint8_t* c = FilterSlot(p);
  uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);
  while (v != 255 && v != 0 &&
         !__atomic_compare_exchange_n(c, &v, static_cast<uint8_t>(v - 1), true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

bool RemoveLive(uintptr_t p, LiveEntry* e) {
  if (!MayBeLiveSample(reinterpret_cast<const void*>(p))) return false;
  if (!g_live->Remove(p, e, EveryAllocation())) return false;
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

void Account(StackId id, uint64_t size, bool alloc) {
  StackNode* n = g_depot->Get(id);
  if (n == nullptr) return;
  uint64_t w = SampleWeight(size);
  uint64_t bytes = size * w;
  StackCounters& c = n->counters;
  if (alloc) {
    c.alloc_objects.fetch_add(w, std::memory_order_relaxed);
    c.alloc_bytes.fetch_add(bytes, std::memory_order_relaxed);
    UpdateInuse(static_cast<int64_t>(bytes));
  } else {
    c.free_objects.fetch_add(w, std::memory_order_relaxed);
    c.free_bytes.fetch_add(bytes, std::memory_order_relaxed);
    UpdateInuse(-static_cast<int64_t>(bytes));
  }
}

}  // namespace

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

uint64_t SampleWeight(uint64_t size) {
  uint64_t rate = GlobalState().config.rate;
  if (rate <= 1 || size == 0) return kWeightOne;
  double p = -expm1(-static_cast<double>(size) / static_cast<double>(rate));
  if (p <= 0) return kWeightOne;
  return static_cast<uint64_t>(static_cast<double>(kWeightOne) / p + 0.5);
}

namespace {

// The stack's id, inserting it if new; 0 (counted) when the depot is full.
HS_ALWAYS_INLINE StackId StackIdOf(const uintptr_t* frames, int depth, bool truncated) {
  bool is_new = false;
  StackId id = g_depot->FindOrInsert(frames, depth, truncated, &is_new);
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
  switch (g_live->Insert(reinterpret_cast<uintptr_t>(p), LiveEntry{size, id}, &replaced)) {
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
  st.samples.Add(1);
  Account(id, size, true);
}

}  // namespace

void RecordAllocAt(const RecursionGuard&, void* p, size_t size, const uintptr_t* frames, int depth,
                   bool truncated) {
  RecordAllocImpl(p, size, StackIdOf(frames, depth, truncated));
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
  uintptr_t frames[kMaxFrames];
  bool truncated = false;
  WalkInfo walk;
  int depth = CaptureStack(g, frames, kMaxFrames, &truncated, &walk);
  LastStack& last = tls_last_stack;
  StackId id;
  if (walk.same_as_last && last.id != 0 && walk.serial == last.walk_serial + 1) {
    id = last.id;
  } else {
    id = StackIdOf(frames, depth, truncated);
  }
  last = LastStack{walk.serial, walk.serial != 0 ? id : 0};
  RecordAllocImpl(p, size, id);
}

void RecordAllocFreed(const RecursionGuard&, size_t size, const uintptr_t* frames, int depth,
                      bool truncated) {
  StackId id = StackIdOf(frames, depth, truncated);
  if (id == 0) return;
  GlobalState().samples.Add(1);
  Account(id, size, true);
  Account(id, size, false);
}

void RecordFree(const RecursionGuard& g, void* p) {
  LiveEntry e;
  if (RemoveLive(reinterpret_cast<uintptr_t>(p), &e)) Account(e.stack, e.size, false);
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
