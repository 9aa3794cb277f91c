// Leak trends: which stacks and functions keep growing across a series of
// heap snapshots (the runtime's heap.NNNN.pb.gz files) and of the resource
// profiles written beside them (fds, threadcreate, mmap), told apart from
// bounded caches (plateau), temporary peaks (transient), tables built at
// start (constant) and shrinking memory. The statistics live in trend.h;
// this file turns profiles into per-stack series and the series into a
// report. README.md "Leak trends: how verdicts are reached" documents the
// method, the thresholds and the JSON schema.
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "analyze/symbolizer.h"
#include "analyze/trend.h"
#include "format/profile.h"

namespace heapscope::analyze {

struct InUse {
  int64_t bytes = 0;
  int64_t objects = 0;
};

// In-use bytes by age at a snapshot's time, from the runtime's "age" label
// (the lower bound of each age bucket, in seconds): sorted by age.
// Empty when the profile has no ages (other profilers, older files).
using AgeHistogram = std::vector<AgeBytes>;

inline constexpr const char* kTurnedOver = "turned_over";

// What a series counts. Heap series are sampled bytes; the others are exact
// counts (fd, thread) or exact mapped bytes (mmap) read from the runtime's
// tables.
enum class LeakKind { kHeap, kFd, kThread, kMmap };
inline constexpr LeakKind kResourceKinds[] = {LeakKind::kFd, LeakKind::kThread, LeakKind::kMmap};

// "heap", "fd", "thread", "mmap".
std::string_view LeakKindName(LeakKind kind);
// The runtime's file and endpoint name: "heap", "fds", "threadcreate", "mmap".
std::string_view LeakKindProfileName(LeakKind kind);
// Index of a resource kind in LeakSnapshot::resources (fd 0, thread 1, mmap 2).
inline size_t ResourceIndex(LeakKind kind) { return static_cast<size_t>(kind) - 1; }

// A resource profile taken with a heap snapshot: per stack, InUse.bytes is
// the value followed (descriptors, threads, or mapped bytes) and
// InUse.objects the count (descriptors, threads, mappings).
// Stack keys name every frame, except that code outside every mapped file
// (what a JIT compiled, named only by the JIT's perf map, when at all, and
// moved when recompiled) counts as one "[jit]" frame per run of such
// frames, so a stack keeps its key from snapshot to snapshot. The frames
// shown for a key, when they differ from it: those of its largest sample.
using ShownFrames = std::unordered_map<std::string, std::string>;
// Where each frame shown for a key is in the source, "FILE:LINE" ("" for a
// frame with no line known), one per frame shown: from DWARF (see
// AddSourceLines) or from the lines the profile carries (Go's).
using FrameSources = std::unordered_map<std::string, std::vector<std::string>>;

struct ResourceSnapshot {
  bool present = false;
  std::unordered_map<std::string, InUse> stacks;
  ShownFrames shown;
  FrameSources sources;
  InUse total;
  // The limit this resource runs into, from the runtime's comments, for
  // the projection of a leak of it: fd, the open-file limit (`fd_limit=`);
  // thread, the cgroup's or the machine's task limit (`task_limit=`,
  // `tasks=`, `task_limit_source=`); mmap, the kernel's vm.max_map_count
  // (`max_map_count=`, `map_count=`). In counts (descriptors, tasks,
  // mappings); limit_used: what counts towards it now (unset: total's
  // count: the descriptors open).
  std::optional<int64_t> limit;
  std::optional<int64_t> limit_used;
  std::string limit_name;  // "the open-file limit", "the cgroup's task limit", ...
};

// What one snapshot contributes to the series.
// Which run of which process wrote a profile: the runtime's pid comment
// (0: unknown), when its runtime started (time - duration) and when the
// profile was taken, in seconds since the epoch (0: the profile lacks
// them).
struct RunId {
  int64_t pid = 0;
  double start_sec = 0;
  double time_sec = 0;
};
RunId RunOf(const format::Profile& profile);

// Whether two profiles come from the same run: the same pid (when both
// are known) and starts within 50 ms plus 0.1% of the time between them
// (the clock's slew; a step of the wall clock past that splits a run).
// Without times, the same.
bool SameRun(const RunId& a, const RunId& b);

struct LeakSnapshot {
  std::string source;
  double time_sec = 0;  // time_nanos / 1e9 (0 if the profile has none).
  double rate = 0;      // Mean sampling distance; 1 in exact mode; 0 unknown.
  // Keyed by frame names, leaf first, joined by '\n' (stacks), or by the
  // leaf function's name (functions).
  std::unordered_map<std::string, InUse> stacks;
  ShownFrames shown;
  FrameSources sources;
  std::unordered_map<std::string, InUse> functions;
  // In-use bytes by age, for the keys above that have any.
  std::unordered_map<std::string, AgeHistogram> stack_ages;
  std::unordered_map<std::string, AgeHistogram> function_ages;
  InUse total;
  ResourceSnapshot resources[3];  // By ResourceIndex: fd, thread, mmap.
  // The runtime's profile at exit (source named heap[.PID].final.pb.gz):
  // written after the program's own teardown may have freed much of its
  // heap.
  bool at_exit = false;
  // The runtime saw none of the heap: the program's malloc is another
  // allocator's, ahead of the runtime (comment `heap_not_seen`); this
  // holds that file. Empty when the heap was profiled.
  std::string heap_not_seen;
  // The memory limit of the profiled process's cgroup, as the runtime
  // recorded it (comment `memory_limit`; unset when none is set or the
  // profile does not say), and its resident memory (`vm_rss`; 0 unknown).
  std::optional<int64_t> memory_limit;
  int64_t resident = 0;
  // cgroup v2's memory.high (comment `memory_high`): where the kernel
  // starts to reclaim hard and throttle, short of the limit.
  std::optional<int64_t> memory_high;
  RunId run;
};

// Reduces a resource profile (the runtime's fds, threadcreate or mmap; Go's
// threadcreate reads too) to its value per stack, merged as heap stacks are.
format::Result<ResourceSnapshot> SummarizeResource(const format::Profile& profile, LeakKind kind,
                                                   const std::string& source);

// Reduces a heap profile (with inuse_space and inuse_objects) to in-use
// bytes and objects per stack and per leaf function. Stacks merge by
// simplified function names, so call-site differences do not split them.
format::Result<LeakSnapshot> SummarizeSnapshot(const format::Profile& profile,
                                               std::string source);

// A file name the runtime gives a heap profile: heap[.PID].NNNN.pb.gz (a
// numbered snapshot, four digits or more) or heap[.PID].final.pb.gz.
struct SnapshotName {
  long pid = 0;       // 0: the process heapscope started (no PID in the name)
  uint64_t seq = 0;   // 0 for the final profile
  bool final = false;
};
std::optional<SnapshotName> ParseSnapshotName(std::string_view name);

// The snapshot files of a directory the runtime wrote, in time order:
// heap.NNNN.pb.gz by number, then heap.final.pb.gz. pid != 0 selects a
// child's heap.PID.NNNN.pb.gz and heap.PID.final.pb.gz instead.
format::Result<std::vector<std::string>> ListSnapshotFiles(const std::string& dir, long pid);

// Reads the resource profiles the runtime wrote beside the heap snapshot
// `heap_file` (heap.X -> fds.X, threadcreate.X, mmap.X) into
// snap->resources; a sibling that does not read is skipped with a warning.
void ReadResourceSiblings(const std::string& heap_file, LeakSnapshot* snap,
                          std::vector<std::string>* warnings);

// Which snapshots belong to the newest run: the one that wrote the
// snapshot with the latest time. Another process (a service restarted with
// the same output directory) or the same process after it exec'd itself in
// place (haproxy's master reloading: same pid, a new program whose heap
// starts empty) is another run: a series across runs would read the
// restart as memory freed, and the earlier run's growth as this one's.
// Profiles without times are all kept. Sets *note, when some are left
// out, to a sentence that says what and why. SameRun tells runs apart.
std::vector<bool> NewestRun(const std::vector<LeakSnapshot>& snaps, std::string* note);

// What a live watch says when the endpoint's newest profile is not of the
// run it was following (!SameRun): its series starts again from `now`.
std::string AnotherRunNote(const RunId& now);

// Reads the files (or directories, expanded with ListSnapshotFiles) in
// order. Beside each heap.X.pb.gz, fds.X.pb.gz, threadcreate.X.pb.gz and
// mmap.X.pb.gz are read when they exist (the runtime writes them with the
// same numbering once the program used that resource). A file that does not read is skipped with a
// warning when others do; it is an error when it is the only one or when most do not read. Only the
// newest run's are returned (NewestRun; its note in warnings).
format::Result<std::vector<LeakSnapshot>> LoadLeakSnapshots(
    const std::vector<std::string>& sources, long pid, std::vector<std::string>* warnings);

// The source line of every frame of every stack of `profile` (keyed as
// SummarizeSnapshot and SummarizeResource key them), from `symbolized`:
// the same profile read again and given DWARF lines (Symbolize), whose
// locations match it index for index (or `profile` itself, when it carries
// lines). A location's frames and its twin's inline chain line up from
// the outermost: a frame named by the location's symbol gets the last line
// of the chain (the one in the function it names); the frames of a chain
// the profile had already (Go's inlined calls) get a line each. Of a
// key's samples, the largest one's lines
// (as the frames shown are the largest one's).
FrameSources StackSources(const format::Profile& profile, const format::Profile& symbolized);

// StackSources of the profile `read` gives, read twice (once to symbolize
// with `options`): {} when it does not read or cannot be symbolized.
FrameSources SymbolizedStackSources(const std::function<format::Result<format::Profile>()>& read,
                                    const SymbolizeOptions& options);

// Gives the newest snapshots of a series read from files (the newest
// before exit and the one at exit), and their resource siblings, the
// source lines of their stacks: each file is read again and symbolized
// from DWARF (Symbolize with `options`; binaries not found are skipped
// quietly). Snapshots from elsewhere (a live endpoint) are left alone.
void AddSourceLines(std::vector<LeakSnapshot>* snaps, const SymbolizeOptions& options);

struct LeakOptions {
  TrendOptions trend;               // trend.rate is taken from the snapshots.
  size_t max_suspects = 10;         // Stacks shown (and functions shown).
  // Bytes, for time_to_limit; unset: the cgroup memory limit the newest
  // snapshot carries (LeakSnapshot::memory_limit), if any.
  std::optional<int64_t> limit;
  std::string limit_source;  // "--limit"
};

struct LeakSuspect {
  LeakKind kind = LeakKind::kHeap;
  size_t rank = 0;                  // 1 = fastest growing of its kind.
  Verdict verdict = Verdict::kGrowing;
  std::vector<std::string> frames;  // Leaf first.
  // Beside frames, one each: "FILE:LINE" or "" (empty when none is known).
  std::vector<std::string> sources;
  int64_t inuse = 0;                // In the last snapshot: bytes (heap, mmap), count (fd, thread).
  int64_t inuse_objects = 0;        // Objects, descriptors, threads, mappings.
  double growth_per_sec = 0;        // Theil-Sen slope of `inuse`.
  double confidence = 0;            // 1 - Mann-Kendall p-value.
  double share_of_growth = 0;       // growth_per_sec / its kind's total growth per sec.
  // Heap, when the newest profile carries ages: how old its oldest in-use
  // objects are at least (the lower bound of their age bucket), seconds.
  std::optional<double> oldest_age_sec;
  // Growing between temporary peaks of the same stack (Trend::under_peaks).
  bool under_peaks = false;
  // growth_per_sec in the unit of its kind's limit: mmap, mappings per
  // second (growth_per_sec is bytes); the others, growth_per_sec.
  double limit_growth_per_sec = 0;
  // The time until its kind's limit is reached at this suspect's growth
  // alone (0: reached already): heap, the memory limit, from LimitBase;
  // fd, thread, mmap: KindSummary's limit (counts: descriptors, tasks,
  // mappings) from its limit_used. Unset without a limit or growth.
  std::optional<double> time_to_limit_sec;
};

// The process-wide series of one resource kind.
struct KindSummary {
  LeakKind kind = LeakKind::kFd;
  size_t snapshots = 0;             // Snapshots that carried this profile.
  int64_t total = 0;                // In the last snapshot (unit as LeakSuspect::inuse).
  int64_t total_objects = 0;
  double growth_per_sec = 0;
  Verdict verdict = Verdict::kConstant;
  size_t suspects_total = 0;        // Growing stacks of this kind.
  // The limit of the last snapshot that gave one (ResourceSnapshot: the
  // open-file limit, the task limit, vm.max_map_count), what counted
  // towards it then, and, when this kind is growing, the time until it is
  // reached at the current rate (0: reached already). mmap: the rate of
  // its mapping count (growth_per_sec is of bytes).
  std::optional<int64_t> limit;
  int64_t limit_used = 0;
  std::string limit_name;
  double limit_growth_per_sec = 0;  // In the limit's unit (counts).
  std::optional<double> time_to_limit_sec;
};

struct LeakReport {
  // The series were judged without the profile at exit
  // (LeakSnapshot::at_exit), because the snapshots before it are enough:
  // what a program frees while it ends (its destructors free a global
  // cache, a table, whatever main owned) says nothing of how it grew
  // while running. Everything below then describes the snapshots before.
  bool running_only = false;
  // The newest snapshot's LeakSnapshot::heap_not_seen: the heap figures
  // are empty because the runtime could not see the heap.
  std::string heap_not_seen;
  size_t snapshots = 0;
  size_t min_snapshots = 0;
  bool enough_snapshots = false;
  double duration_sec = 0;
  double rate = 0;
  // The slowest heap growth this window can call growing (GrowthFloorPerSec
  // of the window): 0 in every-allocation mode.
  double heap_growth_floor_per_sec = 0;
  // Growing stacks of every kind: the leading max_suspects of each kind,
  // ranked within their kind by growth rate (bytes are never compared with
  // counts), listed by rank, then kind (heap, fd, thread, mmap).
  std::vector<LeakSuspect> suspects;
  size_t suspects_total = 0;           // Growing stacks before the cut.
  std::vector<KindSummary> resources;  // Resource kinds present, in kind order.
  std::vector<LeakSuspect> functions;  // Growing leaf functions, fastest first.
  // Stacks (all kinds) by verdict name, not growing; and, under kTurnedOver,
  // how many of them rose but failed the persistence check (ClassifyTrend).
  std::map<std::string, size_t> ruled_out;
  int64_t total_inuse = 0;
  int64_t total_inuse_objects = 0;
  double total_growth_per_sec = 0;
  Verdict total_verdict = Verdict::kConstant;
  std::optional<int64_t> limit;
  std::string limit_source;  // "--limit", "the cgroup's memory limit"
  // The newest snapshot's resident memory (0: unknown, e.g. Go's profiles).
  int64_t resident = 0;
  // (limit - LimitBase) / total_growth_per_sec, when growing.
  std::optional<double> time_to_limit_sec;
  // The newest snapshot's cgroup memory.high, when below the limit (or
  // without one), and the time until LimitBase reaches it likewise: the
  // throttling that comes before the OOM kill.
  std::optional<int64_t> memory_high;
  std::optional<double> time_to_memory_high_sec;
  std::vector<std::string> warnings;
};

// What the memory limit is measured against now: the process's resident
// memory when the profiles carry it (all of it counts towards a cgroup's
// limit, code and allocator overhead included), else the heap in use.
int64_t LimitBase(const LeakReport& report);

LeakReport AnalyzeLeaks(const std::vector<LeakSnapshot>& snapshots, const LeakOptions& options);

std::string FormatLeaksText(const LeakReport& report);
std::string FormatLeaksJson(const LeakReport& report);

}  // namespace heapscope::analyze
