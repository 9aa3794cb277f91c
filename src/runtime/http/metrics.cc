// /debug/vars (JSON, in the spirit of Go's expvar memstats) and /metrics
// (Prometheus text exposition format): the same figures, from the stack
// depot's counters, the runtime's own counters and /proc/self.
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/mmap_arena.h"
#include "runtime/cgroup_memory.h"
#include "runtime/http/handlers.h"
#include "runtime/memory_breakdown.h"
#include "runtime/proc_dir.h"
#include "runtime/profile_writer.h"
#include "runtime/recorder.h"
#include "runtime/runtime.h"

namespace heapscope::runtime::http {
namespace {

struct Figures {
  HeapTotals heap;
  uint64_t rss_bytes = 0;
  uint64_t rss_peak_bytes = 0;
  uint64_t vm_bytes = 0;
  uint64_t threads = 0;
  uint64_t open_fds = 0;
  uint64_t rate = 0;
  uint64_t samples = 0;
  uint64_t dropped_stacks = 0;
  uint64_t dropped_live = 0;
  uint64_t dropped_deferred = 0;     // a signal handler's queue was full
  uint64_t objects_without_age = 0;  // live table full with block headers (not dropped)
  uint64_t record_ns = 0;
  uint64_t profiler_bytes = 0;
  uint64_t uptime_ms = 0;
  uint64_t start_time_s = 0;  // Unix time the runtime started
  uint64_t pid = 0;
  MemorySnapshot mem;  // where resident memory goes
  CgroupMemory cgroup;  // the memory limit of the process's cgroup
  // The limits the other resources run into (0: none known).
  uint64_t max_fds = 0;
  TaskLimit tasks;
  uint64_t map_count = 0;
  uint64_t max_map_count = 0;
};

uint64_t NowNs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// The number after `key` in /proc/self/status ("VmRSS:\t  1234 kB").
uint64_t StatusField(const char* status, const char* key) {
  const char* p = strstr(status, key);
  if (p == nullptr) return 0;
  p += strlen(key);
  while (*p == ' ' || *p == '\t') p++;
  uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  return v;
}

// Counts /proc/self/fd entries with getdents64 (no opendir, no malloc),
// leaving out the descriptor used to read the directory.
uint64_t CountOpenFds() {
  uint64_t count = 0;
  ForEachNumberedEntry("/proc/self/fd", [&](int64_t fd, int dir) {
    if (fd != dir) count++;
    return true;
  });
  return count;
}

void Collect(Figures* f) {
  const State& g = GlobalState();
  f->heap = ComputeHeapTotals();
  char status[8192];
  size_t len = 0;
  int fd = OpenProc("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    for (;;) {
      ssize_t n = read(fd, status + len, sizeof status - 1 - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      len += static_cast<size_t>(n);
      if (len == sizeof status - 1) break;
    }
    close(fd);
  }
  status[len] = '\0';
  f->rss_bytes = StatusField(status, "\nVmRSS:") * 1024;
  f->rss_peak_bytes = StatusField(status, "\nVmHWM:") * 1024;
  f->vm_bytes = StatusField(status, "\nVmSize:") * 1024;
  f->threads = StatusField(status, "\nThreads:");
  f->open_fds = CountOpenFds();
  f->rate = g.config.rate <= 1 ? 1 : g.config.rate;
  f->samples = SamplesRecorded();
  f->dropped_stacks = g.dropped_stacks.load();
  f->dropped_live = g.dropped_live.load();
  f->dropped_deferred = g.dropped_deferred.load();
  f->objects_without_age = g.objects_without_age.load();
  f->record_ns = RecordNs();
  f->profiler_bytes = base::ProfilerMappedBytes();
  uint64_t up_ns = NowNs(CLOCK_MONOTONIC) - g.start_ns;
  f->uptime_ms = up_ns / 1000000;
  f->start_time_s = (NowNs(CLOCK_REALTIME) - up_ns) / 1000000000ULL;
  f->pid = static_cast<uint64_t>(g.pid);
  f->mem = ReadMemorySnapshot(f->heap.inuse_bytes, HeaderBytes(f->heap.inuse_objects));
  f->cgroup = ProcessCgroupMemory();
  f->max_fds = SoftFdLimit();
  f->tasks = ProcessTaskLimit();
  // smaps, read just above, lists every mapping: no second walk of maps.
  f->map_count = f->mem.ok ? f->mem.mappings : CountMappings();
  f->max_map_count = MaxMapCount();
}

bool ShowPart(const MemorySnapshot& m, RssPart part) {
  return m.rss.allocator_known ||
         (part != RssPart::kAllocatorOverhead && part != RssPart::kAllocatorFree);
}

void JsonField(Text& t, const char* name, uint64_t v, bool last = false) {
  t.Str("\"").Str(name).Str("\": ").Uint(v).Str(last ? "\n" : ",\n");
}

}  // namespace

void ServeVars(Reply* reply) {
  Figures f;
  Collect(&f);
  reply->content_type = "application/json; charset=utf-8";
  Text t(reply->body);
  // cmdline as expvar has it: an array of strings.
  t.Str("{\n\"cmdline\": [");
  int fd = OpenProc("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    base::MmapBuffer args;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!args.Append(buf, static_cast<size_t>(n))) break;
    }
    close(fd);
    const char* p = reinterpret_cast<const char*>(args.data());
    size_t n = args.size();
    bool first = true;
    for (size_t i = 0; i < n;) {
      const char* z = static_cast<const char*>(memchr(p + i, '\0', n - i));
      size_t arg_len = z != nullptr ? static_cast<size_t>(z - (p + i)) : n - i;
      if (!first) t.Str(", ");
      first = false;
      t.JsonString(p + i, arg_len);
      i += arg_len + 1;
    }
  }
  t.Str("],\n\"memstats\": {\n");
  // Go's names for what they mean here: sampled, unbiased estimates of the
  // program's malloc heap.
  JsonField(t, "Alloc", f.heap.inuse_bytes);
  JsonField(t, "TotalAlloc", f.heap.alloc_bytes);
  JsonField(t, "Sys", f.vm_bytes);
  JsonField(t, "Mallocs", f.heap.alloc_objects);
  JsonField(t, "Frees", f.heap.free_objects);
  JsonField(t, "HeapAlloc", f.heap.inuse_bytes);
  JsonField(t, "HeapObjects", f.heap.inuse_objects, true);
  t.Str("},\n\"heapscope\": {\n");
  JsonField(t, "heap_inuse_bytes", f.heap.inuse_bytes);
  JsonField(t, "heap_inuse_objects", f.heap.inuse_objects);
  JsonField(t, "heap_peak_inuse_bytes", f.heap.peak_inuse_bytes);
  JsonField(t, "heap_allocated_bytes", f.heap.alloc_bytes);
  JsonField(t, "heap_allocated_objects", f.heap.alloc_objects);
  JsonField(t, "heap_freed_bytes", f.heap.free_bytes);
  JsonField(t, "heap_freed_objects", f.heap.free_objects);
  JsonField(t, "resident_bytes", f.rss_bytes);
  JsonField(t, "resident_peak_bytes", f.rss_peak_bytes);
  JsonField(t, "virtual_bytes", f.vm_bytes);
  if (f.cgroup.version != 0) {
    // 0: no limit set.
    JsonField(t, "cgroup_memory_limit_bytes", f.cgroup.limit);
    JsonField(t, "cgroup_memory_usage_bytes", f.cgroup.usage);
    JsonField(t, "cgroup_memory_high_bytes", f.cgroup.high);  // 0: none set (always on v1)
    JsonField(t, "cgroup_memory_unreclaimable_bytes", f.cgroup.unreclaimable);  // 0: not read
  }
  JsonField(t, "threads", f.threads);
  JsonField(t, "open_fds", f.open_fds);
  // The other resources' limits (0: unlimited or unknown).
  JsonField(t, "max_fds", f.max_fds);
  JsonField(t, "task_limit", f.tasks.limit);
  JsonField(t, "task_limit_used", f.tasks.tasks);
  t.Str("\"task_limit_source\": \"").Str(TaskLimitSourceName(f.tasks.source)).Str("\",\n");
  JsonField(t, "map_count", f.map_count);
  JsonField(t, "max_map_count", f.max_map_count);
  JsonField(t, "sample_rate_bytes", f.rate);
  JsonField(t, "samples", f.samples);
  JsonField(t, "dropped_samples", f.dropped_stacks + f.dropped_live + f.dropped_deferred);
  JsonField(t, "dropped_samples_stack_depot_full", f.dropped_stacks);
  JsonField(t, "dropped_samples_live_table_full", f.dropped_live);
  JsonField(t, "dropped_samples_signal_handler_queue_full", f.dropped_deferred);
  JsonField(t, "objects_without_age", f.objects_without_age);
  JsonField(t, "record_ns", f.record_ns);
  JsonField(t, "stacks", f.heap.stacks);
  JsonField(t, "profiler_memory_bytes", f.profiler_bytes);
  JsonField(t, "pid", f.pid);
  t.Str("\"uptime_seconds\": ").Fixed3(f.uptime_ms).Str("\n},\n");
  // Where resident memory goes: parts that add up to resident_bytes (the
  // sum of every mapping's Rss in /proc/self/smaps).
  t.Str("\"rss_breakdown\": {\n");
  if (f.mem.ok) {
    JsonField(t, "resident_bytes", f.mem.rss.total);
    t.Str("\"parts\": {");
    bool first = true;
    for (int i = 0; i < kRssPartCount; i++) {
      auto part = static_cast<RssPart>(i);
      if (!ShowPart(f.mem, part)) continue;
      t.Str(first ? "\n" : ",\n")
          .Str("\"")
          .Str(RssPartName(part))
          .Str("\": ")
          .Uint(f.mem.rss.parts[i]);
      first = false;
    }
    t.Str("\n},\n");
    JsonField(t, "vm_rss_bytes", f.mem.vm_rss);
    JsonField(t, "vm_hwm_bytes", f.mem.vm_hwm);
    JsonField(t, "live_heap_estimate_bytes", f.mem.live_heap);
    JsonField(t, "thread_stack_mappings", f.mem.thread_stacks_found);
    if (f.mem.allocator.known) {
      t.Str("\"allocator\": \"glibc\",\n\"mallinfo2\": {\n");
      JsonField(t, "arena", f.mem.allocator.arena);
      JsonField(t, "hblkhd", f.mem.allocator.hblkhd);
      JsonField(t, "uordblks", f.mem.allocator.uordblks);
      JsonField(t, "fordblks", f.mem.allocator.fordblks, true);
      t.Str("}\n");
    } else {
      t.Str("\"allocator\": \"unknown\"\n");
    }
  } else {
    t.Str("\"error\": \"cannot read /proc/self/smaps\"\n");
  }
  t.Str("}\n}\n");
}

namespace {

// One sample, with one label when `label` is given (its value plain: no
// escaping).
void Metric(Text& t, const char* name, const char* type, const char* help, uint64_t v,
            const char* label = nullptr, const char* label_value = nullptr) {
  t.Str("# HELP ").Str(name).Char(' ').Str(help).Char('\n');
  t.Str("# TYPE ").Str(name).Char(' ').Str(type).Char('\n');
  t.Str(name);
  if (label != nullptr) t.Char('{').Str(label).Str("=\"").Str(label_value).Str("\"}");
  t.Char(' ').Uint(v).Char('\n');
}

}  // namespace

void ServeMetrics(Reply* reply) {
  Figures f;
  Collect(&f);
  reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
  Text t(reply->body);
  Metric(t, "heapscope_heap_inuse_bytes", "gauge",
         "Bytes in live heap objects (unbiased estimate from sampled allocations).",
         f.heap.inuse_bytes);
  Metric(t, "heapscope_heap_inuse_objects", "gauge",
         "Live heap objects (unbiased estimate from sampled allocations).", f.heap.inuse_objects);
  Metric(t, "heapscope_heap_peak_inuse_bytes", "gauge",
         "Highest estimate of bytes in live heap objects since start.", f.heap.peak_inuse_bytes);
  Metric(t, "heapscope_heap_allocated_bytes_total", "counter",
         "Bytes allocated since start (estimate).", f.heap.alloc_bytes);
  Metric(t, "heapscope_heap_allocated_objects_total", "counter",
         "Heap objects allocated since start (estimate).", f.heap.alloc_objects);
  Metric(t, "heapscope_heap_freed_bytes_total", "counter", "Bytes freed since start (estimate).",
         f.heap.free_bytes);
  Metric(t, "heapscope_heap_freed_objects_total", "counter",
         "Heap objects freed since start (estimate).", f.heap.free_objects);
  Metric(t, "heapscope_process_resident_memory_bytes", "gauge", "Resident memory size (VmRSS).",
         f.rss_bytes);
  Metric(t, "heapscope_process_resident_memory_peak_bytes", "gauge",
         "Peak resident memory size (VmHWM).", f.rss_peak_bytes);
  Metric(t, "heapscope_process_virtual_memory_bytes", "gauge", "Virtual memory size (VmSize).",
         f.vm_bytes);
  if (f.cgroup.limit != 0) {
    Metric(t, "heapscope_cgroup_memory_limit_bytes", "gauge",
           "Memory limit of the process's cgroup (cgroup v2 memory.max, the smallest up the "
           "hierarchy; v1 hierarchical_memory_limit); absent when none is set.",
           f.cgroup.limit);
    Metric(t, "heapscope_cgroup_memory_usage_bytes", "gauge",
           "Memory charged to the cgroup whose limit applies (memory.current, "
           "memory.usage_in_bytes).",
           f.cgroup.usage);
    if (f.cgroup.unreclaimable != 0) {
      Metric(t, "heapscope_cgroup_memory_unreclaimable_bytes", "gauge",
             "Anonymous memory and shmem of the cgroup whose limit applies (memory.stat anon + "
             "shmem, v1 total_rss + total_shmem): what reclaim cannot give back before an OOM "
             "kill, the cgroup's other processes and tmpfs files included.",
             f.cgroup.unreclaimable);
    }
  }
  if (f.cgroup.high != 0) {
    Metric(t, "heapscope_cgroup_memory_high_bytes", "gauge",
           "Throttling threshold of the process's cgroup (cgroup v2 memory.high, the smallest up "
           "the hierarchy): past it the kernel reclaims hard and slows the cgroup down; absent "
           "when none is set.",
           f.cgroup.high);
  }
  Metric(t, "heapscope_process_threads", "gauge", "Threads in the process.", f.threads);
  Metric(t, "heapscope_process_open_fds", "gauge", "Open file descriptors.", f.open_fds);
  if (f.max_fds != 0) {
    Metric(t, "heapscope_process_max_fds", "gauge",
           "Soft limit on open file descriptors (RLIMIT_NOFILE); absent when unlimited.",
           f.max_fds);
  }
  if (f.tasks.source != TaskLimitSource::kNone) {
    const char* source = TaskLimitSourceName(f.tasks.source);
    Metric(t, "heapscope_task_limit", "gauge",
           "Limit on tasks (threads and processes) with the least room left: the pids cgroup's "
           "pids.max (source cgroup_v1 or cgroup_v2) or the machine's threads-max or pid_max "
           "(source system).",
           f.tasks.limit, "source", source);
    Metric(t, "heapscope_task_limit_used", "gauge",
           "Tasks counted towards heapscope_task_limit now (the cgroup's or the machine's, other "
           "processes' included).",
           f.tasks.tasks, "source", source);
  }
  if (f.max_map_count != 0) {
    Metric(t, "heapscope_process_max_mappings", "gauge",
           "Limit on the process's memory mappings (vm.max_map_count).", f.max_map_count);
    Metric(t, "heapscope_process_mappings", "gauge", "Memory mappings of the process.",
           f.map_count);
  }
  Metric(t, "heapscope_process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch, in seconds.", f.start_time_s);
  Metric(t, "heapscope_sample_rate_bytes", "gauge",
         "Mean bytes between sampled allocations (1: every allocation).", f.rate);
  Metric(t, "heapscope_samples_total", "counter", "Allocations sampled since start.", f.samples);
  t.Str("# HELP heapscope_samples_dropped_total Samples dropped because a table was full.\n");
  t.Str("# TYPE heapscope_samples_dropped_total counter\n");
  t.Str("heapscope_samples_dropped_total{table=\"stack_depot\"} ")
      .Uint(f.dropped_stacks)
      .Char('\n');
  t.Str("heapscope_samples_dropped_total{table=\"live_objects\"} ").Uint(f.dropped_live).Char('\n');
  t.Str("heapscope_samples_dropped_total{table=\"signal_handler_queue\"} ")
      .Uint(f.dropped_deferred)
      .Char('\n');
  Metric(t, "heapscope_objects_without_age_total", "counter",
         "Objects recorded without an age (live object table full; their counts are kept).",
         f.objects_without_age);
  t.Str(
      "# HELP heapscope_record_seconds_total CPU time the profiler spent recording sampled "
      "allocations and frees (stack walks, tables, counts).\n");
  t.Str("# TYPE heapscope_record_seconds_total counter\n");
  t.Str("heapscope_record_seconds_total ").Fixed3(f.record_ns / 1000000).Char('\n');
  Metric(t, "heapscope_stacks", "gauge", "Distinct allocation stacks recorded.", f.heap.stacks);
  Metric(t, "heapscope_profiler_memory_bytes", "gauge",
         "Memory the profiler has mapped for itself.", f.profiler_bytes);
  if (f.mem.ok) {
    t.Str(
        "# HELP heapscope_rss_bytes Resident memory by part; the parts add up to the sum of "
        "Rss over /proc/self/smaps.\n");
    t.Str("# TYPE heapscope_rss_bytes gauge\n");
    for (int i = 0; i < kRssPartCount; i++) {
      auto part = static_cast<RssPart>(i);
      if (!ShowPart(f.mem, part)) continue;
      t.Str("heapscope_rss_bytes{part=\"")
          .Str(RssPartName(part))
          .Str("\"} ")
          .Uint(f.mem.rss.parts[i])
          .Char('\n');
    }
  }
  t.Str("# HELP heapscope_uptime_seconds Seconds since the profiler started.\n");
  t.Str("# TYPE heapscope_uptime_seconds gauge\n");
  t.Str("heapscope_uptime_seconds ").Fixed3(f.uptime_ms).Char('\n');
}

}  // namespace heapscope::runtime::http
