#include "cli/run_summary.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "analyze/function_names.h"
#include "analyze/leaks.h"
#include "analyze/rss_report.h"
#include "analyze/runtime_comments.h"
#include "analyze/units.h"
#include "cli/commands.h"
#include "format/profile_reader.h"

namespace heapscope::cli {
namespace {

int64_t Num(const std::map<std::string, std::string>& kv, const char* key) {
  auto it = kv.find(key);
  return it == kv.end() ? 0 : strtoll(it->second.c_str(), nullptr, 10);
}

int TypeIndex(const format::Profile& p, std::string_view name) {
  for (size_t i = 0; i < p.sample_types.size(); i++) {
    if (p.String(p.sample_types[i].type) == name) return static_cast<int>(i);
  }
  return -1;
}

// Frame names of a location, innermost first (inline chains expanded).
void FrameNames(const format::Profile& p, uint32_t loc, std::vector<std::string>* out) {
  const format::Location& l = p.locations[loc];
  if (l.line_count == 0) {
    char buf[64];
    if (l.mapping != format::kNoIndex) {
      const format::Mapping& m = p.mappings[l.mapping];
      std::string_view file = p.String(m.filename);
      size_t slash = file.rfind('/');
      std::string base(slash == std::string_view::npos ? file : file.substr(slash + 1));
      snprintf(buf, sizeof buf, "+0x%" PRIx64, l.address - m.memory_start + m.file_offset);
      out->push_back(base + buf);
    } else {
      snprintf(buf, sizeof buf, "0x%" PRIx64, l.address);
      out->push_back(buf);
    }
    return;
  }
  for (uint32_t i = 0; i < l.line_count; i++) {
    // Short names ("Cache::Insert"), as a person reads a stack.
    const format::Function& fn = p.functions[p.lines[l.line_begin + i].function];
    std::string name = analyze::DemangleSimplified(p.String(fn.system_name));
    if (name.empty()) name = analyze::DisplayName(p.String(fn.name), p.String(fn.system_name));
    out->push_back(std::move(name));
  }
}

std::string Bytes(int64_t v) { return analyze::Label(v, "bytes"); }

// A heap profile's file name: heap.REST for the process heapscope started
// (pid 0), heap.PID.REST for another.
std::string HeapFile(long pid, const std::string& rest) {
  return "heap." + (pid != 0 ? std::to_string(pid) + "." : std::string()) + rest;
}

// The numbered snapshots of process `pid` (0: the one heapscope started),
// file names in order; heap.10000.pb.gz comes after heap.9999.pb.gz.
std::vector<std::string> NumberedSnapshots(const std::string& out_dir, long pid) {
  std::vector<std::string> names;
  auto files = analyze::ListSnapshotFiles(out_dir, pid);
  if (!files.ok()) return names;
  for (const std::string& path : *files) {
    std::string name = std::filesystem::path(path).filename().string();
    auto parsed = analyze::ParseSnapshotName(name);
    if (parsed && !parsed->final) names.push_back(std::move(name));
  }
  return names;
}

// "1 object", "2,048 objects" (noun: "object", "sample").
std::string Count(int64_t v, const char* noun) {
  return analyze::Grouped(v) + " " + noun + (v == 1 ? "" : "s");
}

// A heap profile's totals (alloc_objects, alloc_space, inuse_objects,
// inuse_space) and its stacks holding memory, most bytes first. Stacks
// that differ only in call-site addresses (an unrolled loop, say) read the
// same to a person: they merge by their frame names.
struct StackTable {
  struct Row {
    std::vector<std::string> names;
    int64_t bytes = 0, objects = 0;
    size_t first = 0;
  };
  int64_t tot[4] = {0, 0, 0, 0};
  std::vector<Row> rows;
};

StackTable LeadingStacks(const format::Profile& p, int ao, int as, int io, int is) {
  StackTable t;
  std::map<std::string, StackTable::Row> merged;
  for (size_t i = 0; i < p.samples.size(); i++) {
    auto v = p.samples.Values(i);
    t.tot[0] += v[ao];
    t.tot[1] += v[as];
    t.tot[2] += v[io];
    t.tot[3] += v[is];
    if (v[is] <= 0) continue;
    std::vector<std::string> names;
    for (uint32_t loc : p.samples.Locations(i)) FrameNames(p, loc, &names);
    std::string key;
    for (const auto& n : names) key += n + '\n';
    StackTable::Row& r = merged[key];
    if (r.names.empty()) {
      r.names = std::move(names);
      r.first = i;
    }
    r.bytes += v[is];
    r.objects += v[io];
  }
  for (auto& [k, r] : merged) t.rows.push_back(std::move(r));
  std::sort(t.rows.begin(), t.rows.end(), [](const auto& a, const auto& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first;
  });
  return t;
}

// The table's leading rows, "  bytes  share  objects  leaf < caller < ...".
void PrintStackRows(const StackTable& t, FILE* out) {
  size_t shown = std::min<size_t>(t.rows.size(), 8);
  for (size_t r = 0; r < shown; r++) {
    const std::vector<std::string>& names = t.rows[r].names;
    std::string stack;
    for (size_t i = 0; i < names.size() && i < 4; i++) {
      if (i > 0) stack += " < ";
      stack += names[i];
    }
    if (names.size() > 4) stack += " < ...";
    fprintf(out, "  %10s %5.1f%% %10s objs  %s\n", Bytes(t.rows[r].bytes).c_str(),
            t.tot[3] > 0
                ? 100.0 * static_cast<double>(t.rows[r].bytes) / static_cast<double>(t.tot[3])
                : 0.0,
            analyze::Grouped(t.rows[r].objects).c_str(), stack.c_str());
  }
  if (t.rows.size() > shown) fprintf(out, "  ... and %zu more stacks\n", t.rows.size() - shown);
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return std::string("was killed by signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended";
}

// Where resident memory went at exit, and which part grew from the oldest
// snapshot kept of the same run (`run`: the final profile's; an earlier
// run's, before a restart or an exec in place, started elsewhere) to the
// final profile.
void PrintRss(const std::string& out_dir, long pid,
              const std::map<std::string, std::string>& final_kv, const analyze::RunId& run,
              bool at_exit, FILE* out) {
  const char* when = at_exit ? "at exit" : "at the last snapshot";
  auto last = analyze::RssFromComments(final_kv);
  if (!last) return;
  fprintf(out, "heapscope: %s, %s\n", when, analyze::RssPartsLine(*last).c_str());
  std::string oldest;
  format::Result<format::Profile> prof = format::Error{"none"};
  for (const std::string& name : NumberedSnapshots(out_dir, pid)) {
    prof = format::ReadProfileFile(out_dir + "/" + name);
    if (prof.ok() && analyze::SameRun(analyze::RunOf(*prof), run)) {
      oldest = name;
      break;
    }
  }
  if (oldest.empty()) return;
  auto first = analyze::RssFromComments(analyze::RuntimeComments(*prof));
  if (!first) return;
  fprintf(out, "heapscope: from %s to %s, %s\n", oldest.c_str(),
          at_exit ? "exit" : "the last snapshot",
          analyze::RssGrowthLine(*first, *last).c_str());
}

// Heap totals of one profile: in use, allocated, peak (0 if absent).
struct HeapTotals {
  int64_t inuse_bytes = 0, inuse_objects = 0, alloc_bytes = 0, alloc_objects = 0, peak = 0;
  std::string program;
  bool heap_not_seen = false;  // its malloc is another allocator's
};

std::optional<HeapTotals> TotalsOf(const std::string& path) {
  auto prof = format::ReadProfileFile(path);
  if (!prof.ok()) return std::nullopt;
  const format::Profile& p = *prof;
  int ao = TypeIndex(p, "alloc_objects"), as = TypeIndex(p, "alloc_space");
  int io = TypeIndex(p, "inuse_objects"), is = TypeIndex(p, "inuse_space");
  if (ao < 0 || as < 0 || io < 0 || is < 0) return std::nullopt;
  HeapTotals t;
  for (size_t i = 0; i < p.samples.size(); i++) {
    auto v = p.samples.Values(i);
    t.alloc_objects += v[ao];
    t.alloc_bytes += v[as];
    t.inuse_objects += v[io];
    t.inuse_bytes += v[is];
  }
  auto kv = analyze::RuntimeComments(p);
  t.peak = Num(kv, "peak_inuse_space");
  t.heap_not_seen = kv.count("heap_not_seen") && kv["heap_not_seen"] == "1";
  if (!p.mappings.empty()) {
    std::string file(p.String(p.mappings[0].filename));
    size_t slash = file.rfind('/');
    t.program = slash == std::string::npos ? file : file.substr(slash + 1);
  }
  return t;
}

// How many ended processes' files the runtime deleted (a count per line
// of children-deleted.txt, which each pruning pass appends to:
// src/runtime/child_files.h).
uint64_t DeletedChildren(const std::string& out_dir) {
  std::ifstream in(out_dir + "/children-deleted.txt");
  uint64_t total = 0;
  std::string line;
  for (int lines = 0; lines < 1000000 && std::getline(in, line); lines++) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
    if (ec == std::errc() && end == line.data() + line.size()) total += n;
  }
  return total;
}

// Processes started by the program (forked, or exec'd with the runtime
// inherited) write heap.PID.* beside its files: name them, with their
// totals, so that a wrapper script or a driver such as g++ does not look
// like a program that allocated nothing.
void PrintChildren(const std::string& out_dir, const std::set<long>& shown_already, FILE* out) {
  namespace fs = std::filesystem;
  struct Child {
    long pid = 0;
    std::string file;  // heap.PID.final.pb.gz, else its newest snapshot
    uint64_t seq = 0;
    bool final = false;
  };
  std::map<long, Child> children;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out_dir, ec)) {
    std::string name = e.path().filename().string();
    // heap.PID.final.pb.gz or heap.PID.NNNN.pb.gz
    auto parsed = analyze::ParseSnapshotName(name);
    if (!parsed || parsed->pid == 0 || shown_already.count(parsed->pid)) continue;
    Child& c = children[parsed->pid];
    c.pid = parsed->pid;
    if (c.final) continue;
    if (parsed->final || c.file.empty() || parsed->seq > c.seq) {
      c.file = name;
      c.seq = parsed->seq;
      c.final = parsed->final;
    }
  }
  const uint64_t deleted = DeletedChildren(out_dir);
  auto print_deleted = [&] {
    if (deleted == 0) return;
    fprintf(out,
            "heapscope: the files of %s more that had ended were deleted, the newest kept "
            "(HEAPSCOPE_KEEP_CHILDREN: 200 by default, 0 keeps all)\n",
            analyze::Grouped(static_cast<int64_t>(deleted)).c_str());
  };
  if (children.empty()) {
    print_deleted();
    return;
  }
  struct Row {
    Child child;
    HeapTotals totals;
  };
  std::vector<Row> rows;
  for (const auto& [pid, c] : children) {
    if (auto t = TotalsOf(out_dir + "/" + c.file)) rows.push_back(Row{c, *t});
  }
  if (rows.empty()) {
    print_deleted();
    return;
  }
  // Those whose heap the runtime could not see (an allocator of their
  // own, as Chromium's), then those with nothing sampled (a shell script's
  // `seq`, `tail`...) go last and are only counted, by program.
  auto group = [](const Row& r) {
    if (r.totals.heap_not_seen) return 1;
    return r.totals.alloc_bytes == 0 && r.totals.inuse_bytes == 0 && r.totals.peak == 0 ? 2 : 0;
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (group(a) != group(b)) return group(a) < group(b);
    int64_t pa = std::max({a.totals.peak, a.totals.inuse_bytes, a.totals.alloc_bytes});
    int64_t pb = std::max({b.totals.peak, b.totals.inuse_bytes, b.totals.alloc_bytes});
    return pa != pb ? pa > pb : a.child.pid < b.child.pid;
  });
  fprintf(out, "heapscope: %zu process%s started by the program wrote profiles too (largest first):\n",
          rows.size(), rows.size() == 1 ? "" : "es");
  size_t with_heap = 0;
  while (with_heap < rows.size() && group(rows[with_heap]) == 0) with_heap++;
  size_t not_seen_end = with_heap;
  while (not_seen_end < rows.size() && group(rows[not_seen_end]) == 1) not_seen_end++;
  // Programs by count, most first: "bash x30, sed x2".
  auto by_program = [&](size_t from, size_t to) {
    std::map<std::string, size_t> count;
    for (size_t i = from; i < to; i++) {
      count[rows[i].totals.program.empty() ? "?" : rows[i].totals.program]++;
    }
    std::vector<std::pair<size_t, std::string>> order;
    for (const auto& [name, n] : count) order.emplace_back(n, name);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::string text;
    for (size_t i = 0; i < order.size() && i < 4; i++) {
      if (i > 0) text += ", ";
      text += order[i].second;
      if (order[i].first > 1) text += " x" + std::to_string(order[i].first);
    }
    if (order.size() > 4) text += ", ...";
    return text;
  };
  size_t shown = std::min<size_t>(with_heap, 8);
  for (size_t i = 0; i < shown; i++) {
    const Row& r = rows[i];
    fprintf(out, "  pid %ld %s: in use at %s %s in %s, peak %s, allocated %s  (%s)\n",
            r.child.pid, r.totals.program.empty() ? "?" : r.totals.program.c_str(),
            r.child.final ? "exit" : "its last snapshot", Bytes(r.totals.inuse_bytes).c_str(),
            Count(r.totals.inuse_objects, "object").c_str(), Bytes(r.totals.peak).c_str(),
            Bytes(r.totals.alloc_bytes).c_str(), r.child.file.c_str());
  }
  if (with_heap > shown) {
    fprintf(out, "  ... and %zu more (%s)\n", with_heap - shown,
            by_program(shown, with_heap).c_str());
  }
  if (not_seen_end > with_heap) {
    fprintf(out, "  %zu whose heap is not profiled, their malloc being another allocator's (%s)\n",
            not_seen_end - with_heap, by_program(with_heap, not_seen_end).c_str());
  }
  if (rows.size() > not_seen_end) {
    fprintf(out, "  %zu with no sampled allocation (%s)\n", rows.size() - not_seen_end,
            by_program(not_seen_end, rows.size()).c_str());
  }
  print_deleted();
  fprintf(out,
          "heapscope: explore a child with: heapscope top %s/%s; its trends: heapscope leaks "
          "--pid %ld %s\n",
          out_dir.c_str(), rows[0].child.file.c_str(), rows[0].child.pid, out_dir.c_str());
}

// The summary of one process's profiles: process `pid` (0: the one
// heapscope started) after the line `header`; `status`: how it ended.
void PrintProcessSummary(const std::string& header, const std::string& out_dir, long pid,
                         int status, FILE* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> numbered = NumberedSnapshots(out_dir, pid);
  size_t snapshots = numbered.size();
  std::string newest = numbered.empty() ? std::string() : numbered.back();
  fprintf(out, "\nheapscope: %s\n", header.c_str());
  std::string final_name = HeapFile(pid, "final.pb.gz");
  std::string final_path = out_dir + "/" + final_name;
  auto prof = format::ReadProfileFile(final_path);
  bool at_exit = true;  // else the figures are the newest snapshot's
  if (!prof.ok() && !fs::exists(final_path, ec) && !newest.empty()) {
    // Ended past C's exit handlers (a Go program's raw exit system call,
    // SIGKILL): the newest snapshot is the latest word.
    auto snap = format::ReadProfileFile(out_dir + "/" + newest);
    if (snap.ok()) {
      // A snapshot the runtime wrote as the memory held neared the cgroup's
      // limit says so (memory_pressure=): the OOM kill came after it.
      auto kv = analyze::RuntimeComments(*snap);
      auto pressure = kv.find("memory_pressure");
      std::string why =
          pressure != kv.end()
              ? ", written as the memory held (resident, or the cgroup's anon + shmem) passed " +
                    pressure->second + "% of the cgroup's memory limit"
              : "";
      const bool sigkilled = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      fprintf(out, "heapscope: no final profile (%s): figures from the last snapshot, %s%s\n",
              sigkilled ? "killed by SIGKILL, which runs no exit handler"
                        : "the program ended past C's exit handlers, or was killed",
              newest.c_str(), why.c_str());
      final_path = out_dir + "/" + newest;
      prof = std::move(snap);
      at_exit = false;
    }
  }
  const char* when = at_exit ? "at exit" : "at the last snapshot";
  if (!prof.ok()) {
    if (!fs::exists(out_dir, ec) && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      // The directory is made with the first profile; a SIGKILL runs no
      // exit handler, so there is no final one.
      fprintf(out,
              "heapscope: no profile written: the program was killed (SIGKILL, which leaves no "
              "final profile) before its first snapshot (--interval D writes them as it runs, "
              "and memory nearing the cgroup's memory limit does too)\n");
    } else if (!fs::exists(out_dir, ec)) {
      fprintf(out,
              "heapscope: no profile written: the runtime never started in the program (a "
              "statically linked program, or one that clears LD_PRELOAD or is set-user-ID), or "
              "the program ended past C's exit handlers (a raw exit system call, as Go "
              "programs make) before its first snapshot\n");
    } else {
      fprintf(out, "heapscope: no final profile: %s\n", prof.error().c_str());
    }
    return;
  }
  const format::Profile& p = *prof;
  auto kv = analyze::RuntimeComments(p);
  int ao = TypeIndex(p, "alloc_objects"), as = TypeIndex(p, "alloc_space");
  int io = TypeIndex(p, "inuse_objects"), is = TypeIndex(p, "inuse_space");
  if (ao < 0 || as < 0 || io < 0 || is < 0) {
    fprintf(out, "heapscope: %s is not a heap profile\n", final_path.c_str());
    return;
  }
  StackTable table = LeadingStacks(p, ao, as, io, is);
  const int64_t* tot = table.tot;
  int64_t rate = Num(kv, "rate");
  bool exact = kv.count("mode") && kv["mode"] == "exact";
  fprintf(out, "heapscope: profiles in %s/ (%s%zu snapshots%s)\n", out_dir.c_str(),
          pid != 0 ? (HeapFile(pid, "*") + ": ").c_str() : "", snapshots,
          at_exit ? (" and " + final_name).c_str() : "");
  if (auto it = kv.find("heap_not_seen"); it != kv.end() && it->second == "1") {
    // The program's malloc is another allocator's: the heap figures would
    // all read 0.
    fprintf(out,
            "heapscope: the heap is not profiled: malloc comes from %s, an allocator ahead of "
            "the runtime (descriptors, threads and mappings are profiled)\n",
            kv.count("malloc_from") ? kv["malloc_from"].c_str() : "another allocator");
    PrintRss(out_dir, pid, kv, analyze::RunOf(p), at_exit, out);
    PrintRunLeakReport(out_dir, pid, out);
    return;
  }
  fprintf(out, "heapscope: %s\n",
          exact ? "every allocation recorded (exact)"
                : ("sampled every " + Bytes(rate) +
                   " on average; figures are unbiased estimates")
                      .c_str());
  fprintf(out, "heapscope: in use %s %s in %s; peak in use %s\n", when,
          Bytes(tot[3]).c_str(), Count(tot[2], "object").c_str(),
          Bytes(Num(kv, "peak_inuse_space")).c_str());
  // The profile at exit comes after the program's own teardown: when that
  // freed most of the heap, say what the program held while it ran, and
  // by which stacks (its last snapshot, at most one interval old).
  std::optional<StackTable> before_exit;
  if (at_exit && !newest.empty()) {
    auto last = format::ReadProfileFile(out_dir + "/" + newest);
    if (last.ok()) {
      int lao = TypeIndex(*last, "alloc_objects"), las = TypeIndex(*last, "alloc_space");
      int lio = TypeIndex(*last, "inuse_objects"), lis = TypeIndex(*last, "inuse_space");
      if (lao >= 0 && las >= 0 && lio >= 0 && lis >= 0) {
        StackTable t = LeadingStacks(*last, lao, las, lio, lis);
        if (t.tot[3] >= 2 * tot[3] && t.tot[3] - tot[3] >= (1 << 20)) {
          fprintf(out,
                  "heapscope: at the last snapshot before exit (%s) %s in %s were in "
                  "use: the program's teardown freed the rest\n",
                  newest.c_str(), Bytes(t.tot[3]).c_str(), Count(t.tot[2], "object").c_str());
          before_exit = std::move(t);
        }
      }
    }
  }
  fprintf(out, "heapscope: allocated in total %s in %s\n", Bytes(tot[1]).c_str(),
          Count(tot[0], "object").c_str());
  // The profiler's own recording time (record_ns, from the runtime's TSC
  // timing): what the samples cost directly, not the cache misses they
  // cause the program.
  int64_t record_ns = Num(kv, "record_ns");
  int64_t samples = Num(kv, "samples");
  if (record_ns > 0 && samples > 0) {
    fprintf(out, "heapscope: recording %s took %.0f ms of CPU", Count(samples, "sample").c_str(),
            static_cast<double>(record_ns) / 1e6);
    // Per sample only over enough of them: the first ones also pay for the
    // tables' first touch and each first sight of a library.
    if (samples >= 100) {
      fprintf(out, " (%.2f us each, frees included)",
              static_cast<double>(record_ns) / 1e3 / static_cast<double>(samples));
    }
    fprintf(out, "\n");
  }
  int64_t dropped = Num(kv, "dropped_samples");
  if (dropped > 0) {
    fprintf(out, "heapscope: WARNING %" PRId64 " samples dropped (tables full): figures are low\n",
            dropped);
  }
  if (int64_t unaged = Num(kv, "objects_without_age"); unaged > 0) {
    fprintf(out,
            "heapscope: WARNING %s recorded without an age (live object table full; raise "
            "HEAPSCOPE_MAX_LIVE): their counts are kept, but the leak report cannot tell how "
            "long they stayed\n",
            Count(unaged, "object").c_str());
  }
  PrintRss(out_dir, pid, kv, analyze::RunOf(p), at_exit, out);
  if (before_exit) {
    fprintf(out, "heapscope: in use at the last snapshot before exit, by leading stacks:\n");
    PrintStackRows(*before_exit, out);
  }
  if (table.rows.empty()) {
    // Often the program's teardown freed it all; the trends below judge
    // the run without that.
    fprintf(out, "heapscope: nothing still in use %s\n", when);
  } else {
    fprintf(out, "heapscope: still in use %s, by leading stacks:\n", when);
    PrintStackRows(table, out);
  }
  if (before_exit) {
    fprintf(out, "heapscope: explore with: heapscope top %s/%s (before exit), heapscope top %s\n",
            out_dir.c_str(), newest.c_str(), final_path.c_str());
  } else if (!table.rows.empty()) {
    fprintf(out, "heapscope: explore with: heapscope top %s\n", final_path.c_str());
  }
  PrintRunLeakReport(out_dir, pid, out);
}

}  // namespace

namespace {

std::string NotProfiled(const LeftRunning& l) {
  return "not profiled (the runtime is not loaded in it: " + l.why_not + ")";
}

}  // namespace

void PrintRunSummary(const std::string& program, const std::string& out_dir, const RunEnd& end,
                     double seconds, const std::vector<LeftRunning>& left, bool followed,
                     FILE* out) {
  char when[64];
  snprintf(when, sizeof when, " after %.1fs", seconds);
  std::string how = Describe(end.status) + when;
  if (end.oom_killed) {
    how += end.memory_limit != 0 ? ": by the kernel's OOM killer, its cgroup's memory limit (" +
                                       Bytes(static_cast<int64_t>(end.memory_limit)) + ") reached"
                                 : ": by the kernel's OOM killer, the machine out of memory";
  }
  PrintProcessSummary(program + " " + how, out_dir, 0, end.status, out);
  // What the program left running (daemons): with --follow, each one that
  // lived to write snapshots gets a summary of its own.
  std::set<long> shown;
  std::string names;
  for (const LeftRunning& l : left) {
    if (!names.empty()) names += ", ";
    names += "pid " + std::to_string(l.pid) + " " + l.name;
  }
  if (followed && !left.empty()) {
    fprintf(out, "heapscope: %s left %zu process%s running (%s), followed until %s ended\n",
            program.c_str(), left.size(), left.size() == 1 ? "" : "es", names.c_str(),
            left.size() == 1 ? "it" : "they");
    for (const LeftRunning& l : left) {
      snprintf(when, sizeof when, " %.1fs after the start", l.seconds);
      const std::string header = "pid " + std::to_string(l.pid) + " " + l.name +
                                 ", left running by " + program + ", " + Describe(l.status) + when;
      if (!l.profiled) {
        fprintf(out, "heapscope: %s: %s\n", header.c_str(), NotProfiled(l).c_str());
        continue;
      }
      if (NumberedSnapshots(out_dir, l.pid).empty()) continue;
      PrintProcessSummary(header, out_dir, l.pid, l.status, out);
      shown.insert(l.pid);
    }
  }
  PrintChildren(out_dir, shown, out);
  if (!followed && !left.empty()) {
    std::string commands;  // how to see the leaks of each one profiled
    size_t profiled = 0;
    for (const LeftRunning& l : left) {
      if (!l.profiled) continue;
      if (profiled++ > 0) commands += ", ";
      commands += "heapscope leaks --pid " + std::to_string(l.pid) + " " + out_dir;
    }
    fprintf(out, "heapscope: %s left %zu process%s running (%s)", program.c_str(), left.size(),
            left.size() == 1 ? "" : "es", names.c_str());
    if (profiled > 0) {
      fprintf(out, "; %s writing profiles into %s/: %s", profiled == 1 ? "it keeps" : "they keep",
              out_dir.c_str(), commands.c_str());
    }
    fprintf(out, "\n");
    for (const LeftRunning& l : left) {
      if (!l.profiled) {
        fprintf(out, "heapscope: pid %ld %s: %s\n", l.pid, l.name.c_str(), NotProfiled(l).c_str());
      }
    }
    fprintf(out,
            "heapscope: heapscope run --follow waits for such processes, passing signals on to "
            "them, and summarizes each\n");
  }
}

}  // namespace heapscope::cli
