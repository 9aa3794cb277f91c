#include "runtime/resource_profiles.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/mmap_arena.h"
#include "base/raw_log.h"
#include "runtime/cgroup_memory.h"
#include "runtime/out_dir.h"
#include "runtime/proc_dir.h"
#include "runtime/resource_table.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {
namespace {

constexpr const char* kInherited = "[inherited]";

char* CopyString(base::MmapArena* arena, const char* s, size_t n) {
  char* out = static_cast<char*>(arena->Alloc(n + 1, 1));
  if (out == nullptr) return nullptr;
  memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

char* Comment(base::MmapArena* arena, const char* a, uint64_t v1, const char* b, uint64_t v2,
              const char* c = nullptr, uint64_t v3 = 0) {
  char tmp[256];
  base::RawBuffer buf(tmp, sizeof tmp);
  buf.Str(a).Uint(v1).Str(b).Uint(v2);
  if (c != nullptr) buf.Str(c).Uint(v3);
  return CopyString(arena, buf.data(), buf.size());
}

void SetStack(StackSample* s, StackId id) {
  const StackNode* n = id != 0 ? ResourceDepot().Get(id) : nullptr;
  if (n == nullptr) {
    s->frames = nullptr;
    s->depth = 0;
    s->truncated = false;
    s->pseudo = kInherited;
    return;
  }
  s->frames = n->frames;
  s->depth = n->depth;
  s->truncated = n->truncated != 0;
  s->pseudo = nullptr;
}

// Per (stack, kind): one sample with the number of descriptors.
bool BuildFds(base::MmapArena* arena, StackProfile* p) {
  int limit = FdLimit();
  size_t cap = 16;
  while (cap < static_cast<size_t>(limit) * 2) cap *= 2;
  auto* keys = static_cast<uint64_t*>(arena->Alloc(cap * sizeof(uint64_t), 8));
  auto* index = static_cast<uint32_t*>(arena->Alloc(cap * sizeof(uint32_t), 4));
  auto* samples = static_cast<StackSample*>(
      arena->Alloc((static_cast<size_t>(limit) + 1) * sizeof(StackSample), 8));
  if (keys == nullptr || index == nullptr || samples == nullptr) return false;
  size_t n = 0;
  uint64_t total = 0, inherited = 0;
  for (int fd = 0; fd < limit; fd++) {
    FdEntry e;
    if (!GetFd(fd, &e)) continue;
    total++;
    if (e.stack == 0) inherited++;
    // Key 0 is the empty slot; the kind is never 0 in a key (+1).
    uint64_t key = (uint64_t{e.stack} << 8 | (static_cast<uint64_t>(e.kind) + 1));
    size_t i = (key * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
    while (keys[i] != 0 && keys[i] != key) i = (i + 1) & (cap - 1);
    if (keys[i] == 0) {
      keys[i] = key;
      index[i] = static_cast<uint32_t>(n);
      StackSample& s = samples[n++];
      SetStack(&s, e.stack);
      s.values[0] = 0;
      s.labels[0] = ProfileLabel{"kind", FdKindName(e.kind), 0};
      s.nlabels = 1;
    }
    samples[index[i]].values[0]++;
  }
  p->sample_types[0][0] = "fds";
  p->sample_types[0][1] = "count";
  p->ntypes = 1;
  p->period_type[0] = "fds";
  p->period_type[1] = "count";
  p->samples = samples;
  p->nsamples = n;
  const ResourceDrops& d = ResourceDropCounts();
  // The soft open-file limit, for the projection of a descriptor leak
  // (0 when unlimited or unknown).
  p->comments[0] = Comment(arena, "heapscope: fds=", total, " inherited=", inherited,
                           " fd_limit=", SoftFdLimit());
  p->comments[1] = Comment(arena, "heapscope: dropped_fds=", d.fds.load(), " dropped_stacks=",
                           d.stacks.load());
  p->ncomments = 2;
  return p->comments[0] != nullptr && p->comments[1] != nullptr;
}

// One sample per live thread the program created.
bool BuildThreads(base::MmapArena* arena, StackProfile* p) {
  size_t limit = ThreadRecordLimit();
  auto* samples = static_cast<StackSample*>(arena->Alloc((limit + 1) * sizeof(StackSample), 8));
  if (samples == nullptr) return false;
  size_t n = 0;
  for (size_t i = 0; i < limit; i++) {
    ThreadRecord* r = ThreadRecordAt(i);
    uint32_t state = r->state.load(std::memory_order_acquire);
    if (state == kThreadFree) continue;
    StackId stack = r->stack;
    int tid = r->tid.load(std::memory_order_relaxed);
    if (r->state.load(std::memory_order_acquire) == kThreadFree) continue;
    StackSample& s = samples[n++];
    SetStack(&s, stack);
    s.values[0] = 1;
    const char* name = "";
    const char* state_name = "starting";
    if (tid != 0) {
      char buf[64];
      size_t len = ReadThreadName(tid, buf, sizeof buf);
      if (char* copy = CopyString(arena, buf, len)) name = copy;
      char state = ReadThreadState(tid);
      state_name = state != 0 ? ThreadStateName(state) : "exited";
    }
    s.labels[0] = ProfileLabel{"thread_name", name, 0};
    s.labels[1] = ProfileLabel{"tid", nullptr, tid};
    s.labels[2] = ProfileLabel{"state", state_name, 0};
    s.nlabels = 3;
  }
  p->sample_types[0][0] = "threads";
  p->sample_types[0][1] = "count";
  p->ntypes = 1;
  p->period_type[0] = "threads";
  p->period_type[1] = "count";
  p->samples = samples;
  p->nsamples = n;
  p->comments[0] = Comment(arena, "heapscope: threads=", n, " dropped_threads=",
                           ResourceDropCounts().threads.load());
  // Where new threads stop (cgroup_memory.h), for the projection of a
  // thread leak: the limit and the tasks counted towards it now.
  TaskLimit tl = ProcessTaskLimit();
  char tmp[192];
  base::RawBuffer b(tmp, sizeof tmp);
  b.Str("heapscope: task_limit=").Uint(tl.limit).Str(" tasks=").Uint(tl.tasks);
  b.Str(" task_limit_source=").Str(TaskLimitSourceName(tl.source));
  p->comments[1] = CopyString(arena, b.data(), b.size());
  p->ncomments = 2;
  return p->comments[0] != nullptr && p->comments[1] != nullptr;
}

// Per stack: the number of mappings and their bytes.
bool BuildMappings(base::MmapArena* arena, StackProfile* p) {
  auto* maps = static_cast<MappingEntry*>(arena->Alloc(kMaxMappings * sizeof(MappingEntry), 8));
  if (maps == nullptr) return false;
  size_t n = CopyMappings(maps, kMaxMappings);
  if (n > kMaxMappings) n = kMaxMappings;
  size_t cap = 16;
  while (cap < n * 2) cap *= 2;
  auto* keys = static_cast<uint64_t*>(arena->Alloc(cap * sizeof(uint64_t), 8));
  auto* index = static_cast<uint32_t*>(arena->Alloc(cap * sizeof(uint32_t), 4));
  auto* samples = static_cast<StackSample*>(arena->Alloc((n + 1) * sizeof(StackSample), 8));
  if (keys == nullptr || index == nullptr || samples == nullptr) return false;
  size_t ns = 0;
  uint64_t bytes = 0;
  for (size_t m = 0; m < n; m++) {
    uint64_t key = uint64_t{maps[m].stack} + 1;
    size_t i = (key * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
    while (keys[i] != 0 && keys[i] != key) i = (i + 1) & (cap - 1);
    if (keys[i] == 0) {
      keys[i] = key;
      index[i] = static_cast<uint32_t>(ns);
      StackSample& s = samples[ns++];
      SetStack(&s, maps[m].stack);
      s.nlabels = 0;
    }
    StackSample& s = samples[index[i]];
    s.values[0]++;
    s.values[1] += static_cast<int64_t>(maps[m].end - maps[m].start);
    bytes += maps[m].end - maps[m].start;
  }
  p->sample_types[0][0] = "mappings";
  p->sample_types[0][1] = "count";
  p->sample_types[1][0] = "space";
  p->sample_types[1][1] = "bytes";
  p->ntypes = 2;
  p->period_type[0] = "space";
  p->period_type[1] = "bytes";
  p->default_type = "space";
  p->samples = samples;
  p->nsamples = ns;
  p->comments[0] = Comment(arena, "heapscope: mappings=", n, " mapped_bytes=", bytes,
                           " dropped_mappings=", ResourceDropCounts().mappings.load());
  // The kernel's limit on a process's mappings (mmap fails with ENOMEM at
  // it) and the process's count, all mappings, for the projection of a
  // mapping leak (0: unknown).
  p->comments[1] =
      Comment(arena, "heapscope: map_count=", CountMappings(), " max_map_count=", MaxMapCount());
  p->ncomments = 2;
  return p->comments[0] != nullptr && p->comments[1] != nullptr;
}

bool Seen(ResourceProfile which) {
  const ResourceSeen& s = ResourcesSeen();
  switch (which) {
    case ResourceProfile::kFds:
      return s.fds.load();
    case ResourceProfile::kThreads:
      return s.threads.load();
    case ResourceProfile::kMappings:
      return s.mappings.load();
  }
  return false;
}

class FdSink : public format::ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  bool Append(const void* data, size_t n) override { return base::WriteAll(fd_, data, n); }

 private:
  int fd_;
};

// <out>/<name>[.<pid>].<NNNN|what>.pb.gz, as the heap snapshots are named.
void ProfilePath(base::RawBuffer* b, ResourceProfile which, const char* what, uint64_t seq) {
  const State& g = GlobalState();
  b->Str(g.config.out_dir).Char('/').Str(ResourceProfileName(which)).Char('.');
  if (!g.is_main_process) b->Uint(static_cast<uint64_t>(g.pid)).Char('.');
  if (what != nullptr) {
    b->Str(what);
  } else {
    if (seq < 1000) b->Char('0');
    if (seq < 100) b->Char('0');
    if (seq < 10) b->Char('0');
    b->Uint(seq);
  }
  b->Str(".pb.gz");
}

bool WriteAtomically(ResourceProfile which, const char* path) {
  char tmp[1100];
  base::RawBuffer tb(tmp, sizeof tmp);
  tb.Str(path).Str(".tmp");
  if (tb.truncated()) return false;
  int fd = CreateOutFile(tb.CStr());
  if (fd < 0) return false;
  FdSink sink(fd);
  bool ok = WriteResourceProfileGz(which, &sink, nullptr);
  if (syscall(SYS_close, fd) != 0) ok = false;
  if (!ok) {
    RemoveOutFile(tmp);
    return false;
  }
  return RenameOutFile(tmp, path);
}

}  // namespace

const char* ResourceProfileName(ResourceProfile which) {
  switch (which) {
    case ResourceProfile::kFds:
      return "fds";
    case ResourceProfile::kThreads:
      return "threadcreate";
    case ResourceProfile::kMappings:
      return "mmap";
  }
  return "";
}

bool WriteResourceProfileGz(ResourceProfile which, format::ByteSink* out, SymbolCache* symbols) {
  RecursionGuard guard;
  base::MmapArena arena(1 << 20);
  StackProfile p{};
  bool ok = false;
  switch (which) {
    case ResourceProfile::kFds:
      ok = BuildFds(&arena, &p);
      break;
    case ResourceProfile::kThreads:
      ok = BuildThreads(&arena, &p);
      break;
    case ResourceProfile::kMappings:
      ok = BuildMappings(&arena, &p);
      break;
  }
  if (!ok) return false;
  p.symbols = symbols;
  return WriteStackProfileGz(out, p);
}

void WriteResourceSnapshots(const char* what, uint64_t seq) {
  if (!ResourcesActive()) return;
  const State& g = GlobalState();
  for (ResourceProfile which :
       {ResourceProfile::kFds, ResourceProfile::kThreads, ResourceProfile::kMappings}) {
    if (!Seen(which)) continue;
    char path[1100];
    base::RawBuffer b(path, sizeof path);
    ProfilePath(&b, which, what, seq);
    if (b.truncated()) continue;
    WriteAtomically(which, b.CStr());
    if (what == nullptr && g.config.keep > 0 && seq > g.config.keep) {
      char old[1100];
      base::RawBuffer ob(old, sizeof old);
      ProfilePath(&ob, which, nullptr, seq - g.config.keep);
      RemoveOutFile(ob.CStr());
    }
  }
}

ResourceCounts CountResources() {
  ResourceCounts c;
  if (!ResourcesActive()) return c;
  int limit = FdLimit();
  for (int fd = 0; fd < limit; fd++) {
    FdEntry e;
    if (GetFd(fd, &e)) c.fds++;
  }
  size_t nthreads = ThreadRecordLimit();
  for (size_t i = 0; i < nthreads; i++) {
    if (ThreadRecordAt(i)->state.load(std::memory_order_acquire) != kThreadFree) c.threads++;
  }
  RecursionGuard guard;
  base::MmapArena arena(1 << 20);
  auto* maps = static_cast<MappingEntry*>(arena.Alloc(kMaxMappings * sizeof(MappingEntry), 8));
  if (maps != nullptr) {
    size_t n = CopyMappings(maps, kMaxMappings);
    if (n > kMaxMappings) n = kMaxMappings;
    c.mappings = n;
    for (size_t i = 0; i < n; i++) c.mapped_bytes += maps[i].end - maps[i].start;
  }
  return c;
}

}  // namespace heapscope::runtime
