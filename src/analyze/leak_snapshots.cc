// Reading a series for `heapscope leaks`: snapshot files found in a
// directory, each heap profile summarized per stack and per function (with
// the resource profiles written beside it), and source lines added from
// DWARF. The verdicts are in leaks.cc, the report's renderings in
// leaks_format.cc.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "analyze/function_names.h"
#include "analyze/leaks.h"
#include "analyze/node_table.h"
#include "analyze/runtime_comments.h"
#include "analyze/symbolizer.h"
#include "format/profile_reader.h"

namespace heapscope::analyze {
namespace {

int TypeIndex(const format::Profile& p, std::string_view name) {
  for (size_t i = 0; i < p.sample_types.size(); i++) {
    if (p.String(p.sample_types[i].type) == name) return static_cast<int>(i);
  }
  return -1;
}

// The sampling rate from the runtime's comments (1 in exact mode), else the
// profile's period.
double RuntimeRate(const format::Profile& p) {
  auto kv = RuntimeComments(p);
  if (kv["mode"] == "exact") return 1;
  double rate = kv.count("rate") ? std::strtod(kv["rate"].c_str(), nullptr) : 0;
  if (rate <= 0 && p.period > 0) rate = static_cast<double>(p.period);
  return rate;
}

// "ns::Cache<int>::Put(int) const" -> "ns::Cache::Put": what a person
// reads in a stack, and what stays the same across builds. Go's names
// ("pkg.(*T).Method") have no parameters to cut and stay as they are.
std::string ShortName(std::string_view name) {
  if (name.find(".(") != std::string_view::npos) return std::string(name);
  std::string_view simple = SimplifyFunctionName(name);
  if (simple.size() != name.size()) {
    // A full demangled name, whose template arguments may hold parentheses
    // of their own ("std::vector<std::function<void ()>>::..."): cut at the
    // first one, it came out as "std::vector<std::function<void ".
    if (std::string s = SimplifyCPlusPlusName(name); !s.empty()) return s;
  }
  std::string s(simple);
  if (s.find("operator") == std::string::npos) s = RemoveMatching(std::move(s), '<', '>');
  return s.empty() ? std::string(name) : s;
}

}  // namespace

std::string_view LeakKindName(LeakKind kind) {
  switch (kind) {
    case LeakKind::kHeap:
      return "heap";
    case LeakKind::kFd:
      return "fd";
    case LeakKind::kThread:
      return "thread";
    case LeakKind::kMmap:
      return "mmap";
  }
  return "?";
}

std::string_view LeakKindProfileName(LeakKind kind) {
  switch (kind) {
    case LeakKind::kHeap:
      return "heap";
    case LeakKind::kFd:
      return "fds";
    case LeakKind::kThread:
      return "threadcreate";
    case LeakKind::kMmap:
      return "mmap";
  }
  return "?";
}

namespace {

constexpr std::string_view kJitFrame = "[jit]\n";

// A frame shown and the location it comes from: a location makes several
// frames when it has inlined calls (its lines, innermost first); `outer`
// counts from that location's outermost frame (0), which is the function
// its symbol names.
struct FrameLocation {
  uint32_t location;
  uint32_t outer;
};

// Calls fn(stack key, frames shown, leaf name, values, sample index,
// locations) for every sample: the key is the frame names, leaf first,
// each followed by '\n', with JIT code as kJitFrame (ShownFrames); the
// frames shown name every frame ("" when they equal the key). The leaf is
// the key's. `locations` holds, for each frame shown, its location and
// where in that location's frames it stands (FrameLocation).
template <typename Fn>
void ForEachStack(const format::Profile& p, Fn fn) {
  NodeTable nodes = NodeTable::Build(p);
  // A profile with no mappings at all (a converter's) has no way to tell
  // JIT code from the rest.
  const bool has_mappings = !p.mappings.empty();
  std::string key, shown;
  std::vector<FrameLocation> frame_locs;
  for (size_t i = 0; i < p.samples.size(); i++) {
    auto v = p.samples.Values(i);
    auto locs = p.samples.Locations(i);
    size_t skip = nodes.PrunedPrefix(locs);
    key.clear();
    shown.clear();
    frame_locs.clear();
    bool differs = false;
    std::string leaf;
    for (size_t l = skip; l < locs.size(); l++) {
      const format::Location& loc = p.locations[locs[l]];
      bool jit = has_mappings && loc.mapping == format::kNoIndex && loc.address != 0;
      auto loc_nodes = nodes.NodesOf(locs[l]);
      for (size_t k = 0; k < loc_nodes.size(); k++) {
        std::string name = ShortName(nodes.Name(loc_nodes[k]));
        shown += name;
        shown += '\n';
        frame_locs.push_back(
            FrameLocation{locs[l], static_cast<uint32_t>(loc_nodes.size() - 1 - k)});
        if (jit) {
          differs = true;
          if (key.ends_with(kJitFrame)) continue;
          name = std::string(kJitFrame.substr(0, kJitFrame.size() - 1));
        }
        if (leaf.empty()) leaf = name;
        key += name;
        key += '\n';
      }
    }
    fn(key, differs ? shown : std::string(), leaf, v, i, frame_locs);
  }
}

// Keeps, per key, the frames shown of its largest sample.
class ShownPicker {
 public:
  explicit ShownPicker(ShownFrames* out) : out_(out) {}
  void Note(const std::string& key, const std::string& shown, int64_t bytes) {
    if (shown.empty()) return;
    auto [it, inserted] = best_.try_emplace(key, bytes);
    if (!inserted && bytes <= it->second) return;
    it->second = bytes;
    (*out_)[key] = shown;
  }

 private:
  ShownFrames* out_;
  std::unordered_map<std::string, int64_t> best_;
};

void AddAge(AgeHistogram* h, double age, double bytes) {
  auto it = std::lower_bound(h->begin(), h->end(), age,
                             [](const AgeBytes& a, double v) { return a.age_sec < v; });
  if (it != h->end() && it->age_sec == age) {
    it->bytes += bytes;
  } else {
    h->insert(it, AgeBytes{age, bytes});
  }
}

}  // namespace

format::Result<LeakSnapshot> SummarizeSnapshot(const format::Profile& p, std::string source) {
  int is = TypeIndex(p, "inuse_space"), io = TypeIndex(p, "inuse_objects");
  if (is < 0) {
    return format::Error{source + ": not a heap profile (no inuse_space sample type)"};
  }
  LeakSnapshot snap;
  std::string_view base(source);
  if (size_t slash = base.rfind('/'); slash != base.npos) base.remove_prefix(slash + 1);
  auto name = ParseSnapshotName(base);
  snap.at_exit = name && name->final;
  snap.source = std::move(source);
  snap.time_sec = static_cast<double>(p.time_nanos) / 1e9;
  snap.rate = RuntimeRate(p);
  {
    auto kv = RuntimeComments(p);
    if (auto it = kv.find("heap_not_seen"); it != kv.end() && it->second == "1") {
      auto from = kv.find("malloc_from");
      snap.heap_not_seen = from != kv.end() && !from->second.empty() ? from->second : "?";
    }
    int64_t v = 0;
    if (auto it = kv.find("memory_limit");
        it != kv.end() && ParseCommentInt(it->second, &v) && v > 0) {
      snap.memory_limit = v;
    }
    if (auto it = kv.find("vm_rss"); it != kv.end() && ParseCommentInt(it->second, &v)) {
      snap.resident = v;
    }
    if (auto it = kv.find("memory_high");
        it != kv.end() && ParseCommentInt(it->second, &v) && v > 0) {
      snap.memory_high = v;
    }
  }
  snap.run = RunOf(p);
  const format::StringIndex age_key = AgeLabelKey(p);
  ShownPicker picker(&snap.shown);
  ForEachStack(p, [&](const std::string& key, const std::string& shown, const std::string& leaf,
                      auto v, size_t i, const std::vector<FrameLocation>&) {
    InUse in{v[is], io >= 0 ? v[io] : 0};
    snap.total.bytes += in.bytes;
    snap.total.objects += in.objects;
    if (in.bytes == 0 && in.objects == 0) return;
    picker.Note(key, shown, in.bytes);
    const std::string fkey = leaf.empty() ? std::string("<unknown>") : leaf;
    InUse& s = snap.stacks[key];
    s.bytes += in.bytes;
    s.objects += in.objects;
    InUse& f = snap.functions[fkey];
    f.bytes += in.bytes;
    f.objects += in.objects;
    double age = SampleAgeSec(p, i, age_key);
    if (age >= 0 && in.bytes > 0) {
      AddAge(&snap.stack_ages[key], age, static_cast<double>(in.bytes));
      AddAge(&snap.function_ages[fkey], age, static_cast<double>(in.bytes));
    }
  });
  return snap;
}

format::Result<ResourceSnapshot> SummarizeResource(const format::Profile& p, LeakKind kind,
                                                   const std::string& source) {
  // The value followed and the count, by sample type name.
  int value = -1, count = -1;
  switch (kind) {
    case LeakKind::kFd:
      value = count = TypeIndex(p, "fds");
      break;
    case LeakKind::kThread:
      value = count = TypeIndex(p, "threads");
      if (value < 0) value = count = TypeIndex(p, "threadcreate");  // Go's endpoint.
      break;
    case LeakKind::kMmap:
      value = TypeIndex(p, "space");
      count = TypeIndex(p, "mappings");
      break;
    case LeakKind::kHeap:
      break;
  }
  if (value < 0) {
    return format::Error{source + ": not a " + std::string(LeakKindProfileName(kind)) +
                         " profile (no such sample type)"};
  }
  ResourceSnapshot r;
  r.present = true;
  {
    std::map<std::string, std::string> kv = RuntimeComments(p);
    auto number = [&](const char* key) -> std::optional<int64_t> {
      auto it = kv.find(key);
      int64_t v = 0;
      if (it == kv.end() || !ParseCommentInt(it->second, &v) || v <= 0) return std::nullopt;
      return v;
    };
    switch (kind) {
      case LeakKind::kFd:
        r.limit = number("fd_limit");
        r.limit_name = "the open-file limit";
        break;
      case LeakKind::kThread: {
        r.limit = number("task_limit");
        r.limit_used = number("tasks");
        auto src = kv.find("task_limit_source");
        bool cgroup = src != kv.end() && src->second.starts_with("cgroup");
        r.limit_name = cgroup ? "the cgroup's task limit" : "the system's task limit";
        break;
      }
      case LeakKind::kMmap:
        r.limit = number("max_map_count");
        r.limit_used = number("map_count");
        r.limit_name = "vm.max_map_count";
        break;
      case LeakKind::kHeap:
        break;
    }
    if (!r.limit) r.limit_name.clear();
  }
  ShownPicker picker(&r.shown);
  ForEachStack(p, [&](const std::string& key, const std::string& shown, const std::string&, auto v,
                      size_t, const std::vector<FrameLocation>&) {
    InUse in{v[value], count >= 0 ? v[count] : 0};
    r.total.bytes += in.bytes;
    r.total.objects += in.objects;
    if (in.bytes == 0 && in.objects == 0) return;
    picker.Note(key, shown, in.bytes);
    InUse& s = r.stacks[key];
    s.bytes += in.bytes;
    s.objects += in.objects;
  });
  return r;
}

namespace {

// The resource profile the runtime wrote beside the heap snapshot
// `heap_file` (heap.X -> fds.X, threadcreate.X, mmap.X); "" when
// heap_file is not named heap.*.
std::string SiblingPath(const std::string& heap_file, LeakKind kind) {
  std::filesystem::path path(heap_file);
  std::string name = path.filename().string();
  if (!name.starts_with("heap.")) return "";
  return (path.parent_path() / (std::string(LeakKindProfileName(kind)) + name.substr(4))).string();
}

// The value a stack is weighed by: in-use bytes (heap), else the resource
// profile's own (fds, threads, mapped bytes); -1 when none.
int WeightIndex(const format::Profile& p) {
  for (const char* name : {"inuse_space", "fds", "threads", "threadcreate", "space"}) {
    if (int i = TypeIndex(p, name); i >= 0) return i;
  }
  return -1;
}

}  // namespace

FrameSources StackSources(const format::Profile& profile, const format::Profile& symbolized) {
  FrameSources out;
  if (symbolized.locations.size() != profile.locations.size() ||
      symbolized.samples.size() != profile.samples.size()) {
    return out;  // not the same profile
  }
  const int weight = WeightIndex(profile);
  std::unordered_map<std::string, int64_t> best;
  ForEachStack(profile, [&](const std::string& key, const std::string&, const std::string&, auto v,
                            size_t, const std::vector<FrameLocation>& frame_locs) {
    int64_t w = weight >= 0 ? v[weight] : 0;
    if (auto it = best.find(key); it != best.end() && w <= it->second) return;
    std::vector<std::string> lines;
    lines.reserve(frame_locs.size());
    bool any = false;
    for (const FrameLocation& f : frame_locs) {
      std::string where;
      // The frames of a location and the lines of its twin line up from
      // the outermost: a frame the runtime named by its symbol (one per
      // location) is the outermost of DWARF's inline chain there, and a
      // profile that had lines already (Go's) keeps them.
      auto chain = symbolized.LinesOf(symbolized.locations[f.location]);
      if (f.outer < chain.size()) {
        const format::Line& line = chain[chain.size() - 1 - f.outer];
        std::string_view file = symbolized.String(symbolized.FunctionOf(line).filename);
        if (line.line > 0 && !file.empty()) {
          where = std::string(file) + ":" + std::to_string(line.line);
          any = true;
        }
      }
      lines.push_back(std::move(where));
    }
    if (!any) return;  // another sample of the key may have lines; this one says nothing
    best[key] = w;
    out[key] = std::move(lines);
  });
  return out;
}

FrameSources SymbolizedStackSources(const std::function<format::Result<format::Profile>()>& read,
                                    const SymbolizeOptions& options) {
  auto plain = read();
  auto symbolized = read();
  if (!plain.ok() || !symbolized.ok() || !Symbolize(*symbolized, options).ok()) return {};
  return StackSources(*plain, *symbolized);
}

void AddSourceLines(std::vector<LeakSnapshot>* snaps, const SymbolizeOptions& options) {
  namespace fs = std::filesystem;
  auto sources_of = [&](const std::string& file) {
    return SymbolizedStackSources([&] { return format::ReadProfileFile(file); }, options);
  };
  // The newest snapshot before exit and the one at exit: the report's
  // frames shown are theirs.
  size_t n = snaps->size();
  size_t first = n >= 2 && snaps->back().at_exit ? n - 2 : (n >= 1 ? n - 1 : 0);
  for (size_t i = first; i < n; i++) {
    LeakSnapshot& snap = (*snaps)[i];
    std::error_code ec;
    fs::path path(snap.source);
    if (!fs::is_regular_file(path, ec)) continue;  // a live endpoint's
    snap.sources = sources_of(snap.source);
    for (LeakKind kind : kResourceKinds) {
      ResourceSnapshot& res = snap.resources[ResourceIndex(kind)];
      std::string sibling = SiblingPath(snap.source, kind);
      if (res.present && !sibling.empty()) res.sources = sources_of(sibling);
    }
  }
}

std::optional<SnapshotName> ParseSnapshotName(std::string_view name) {
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == s.npos;
  };
  if (name.size() < std::string_view("heap.0000.pb.gz").size() || !name.starts_with("heap.") ||
      !name.ends_with(".pb.gz")) {
    return std::nullopt;
  }
  std::string_view mid = name.substr(5, name.size() - 5 - 6);  // [PID.]NNNN|final
  SnapshotName out;
  if (size_t dot = mid.find('.'); dot != mid.npos) {
    std::string_view pid = mid.substr(0, dot);
    if (!digits(pid) || pid[0] == '0') return std::nullopt;
    out.pid = std::stol(std::string(pid));
    mid = mid.substr(dot + 1);
  }
  if (mid == "final") {
    out.final = true;
    return out;
  }
  if (mid.size() < 4 || !digits(mid)) return std::nullopt;
  out.seq = std::stoull(std::string(mid));
  return out;
}

format::Result<std::vector<std::string>> ListSnapshotFiles(const std::string& dir, long pid) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return format::Error{dir + ": no such directory"};
  std::string final_name =
      "heap." + (pid != 0 ? std::to_string(pid) + "." : std::string()) + "final.pb.gz";
  std::vector<std::pair<uint64_t, std::string>> found;
  bool has_final = false;
  fs::directory_iterator it(dir, ec);
  if (ec) return format::Error{dir + ": " + ec.message()};
  for (const auto& e : it) {
    std::string name = e.path().filename().string();
    auto parsed = ParseSnapshotName(name);
    if (!parsed || parsed->pid != pid) continue;
    if (parsed->final) {
      has_final = true;
    } else {
      found.emplace_back(parsed->seq, e.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (auto& [n, path] : found) files.push_back(std::move(path));
  if (has_final) files.push_back((fs::path(dir) / final_name).string());
  if (files.empty()) {
    return format::Error{dir + ": no heap snapshots (heap." +
                         (pid != 0 ? std::to_string(pid) + "." : std::string()) +
                         "NNNN.pb.gz) in this directory"};
  }
  return files;
}

void ReadResourceSiblings(const std::string& heap_file, LeakSnapshot* snap,
                          std::vector<std::string>* warnings) {
  for (LeakKind kind : kResourceKinds) {
    std::string sibling = SiblingPath(heap_file, kind);
    std::error_code ec;
    if (sibling.empty() || !std::filesystem::exists(sibling, ec)) continue;
    auto rprof = format::ReadProfileFile(sibling);
    auto res = rprof.ok() ? SummarizeResource(*rprof, kind, sibling)
                          : format::Result<ResourceSnapshot>(format::Error{rprof.error()});
    if (!res.ok()) {
      warnings->push_back("skipped " + res.error());
      continue;
    }
    snap->resources[ResourceIndex(kind)] = std::move(*res);
  }
}

format::Result<std::vector<LeakSnapshot>> LoadLeakSnapshots(const std::vector<std::string>& sources,
                                                            long pid,
                                                            std::vector<std::string>* warnings) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& s : sources) {
    std::error_code ec;
    if (fs::is_directory(s, ec)) {
      auto listed = ListSnapshotFiles(s, pid);
      if (!listed.ok()) return format::Error{listed.error()};
      files.insert(files.end(), listed->begin(), listed->end());
    } else if (s.find("://") != std::string::npos) {
      return format::Error{s +
                           ": live endpoints are not supported yet; give a snapshot directory "
                           "or profile files"};
    } else {
      files.push_back(s);
    }
  }
  if (files.empty()) return format::Error{"no snapshots given"};
  std::vector<LeakSnapshot> snaps;
  std::vector<std::string> bad;
  for (const std::string& f : files) {
    auto prof = format::ReadProfileFile(f);
    if (!prof.ok()) {
      bad.push_back(prof.error());
      continue;
    }
    auto snap = SummarizeSnapshot(*prof, f);
    if (!snap.ok()) {
      bad.push_back(snap.error());
      continue;
    }
    ReadResourceSiblings(f, &*snap, warnings);
    snaps.push_back(std::move(*snap));
  }
  // One bad file among many (a disk filled up, a copy cut short) should not
  // throw the others away; mostly bad input should not pass as a report.
  if (!bad.empty() && (snaps.empty() || bad.size() * 4 > files.size())) {
    return format::Error{bad.front() + (bad.size() > 1 ? " (and " + std::to_string(bad.size() - 1) +
                                                             " more unreadable snapshots)"
                                                       : std::string())};
  }
  for (const std::string& b : bad) warnings->push_back("skipped " + b);
  std::string note;
  std::vector<bool> keep = NewestRun(snaps, &note);
  if (!note.empty()) {
    warnings->push_back(note);
    std::vector<LeakSnapshot> newest;
    for (size_t i = 0; i < snaps.size(); i++) {
      if (keep[i]) newest.push_back(std::move(snaps[i]));
    }
    snaps = std::move(newest);
  }
  return snaps;
}

RunId RunOf(const format::Profile& p) {
  RunId r;
  auto kv = RuntimeComments(p);
  int64_t v = 0;
  if (auto it = kv.find("pid"); it != kv.end() && ParseCommentInt(it->second, &v) && v > 0) {
    r.pid = v;
  }
  if (p.time_nanos > 0 && p.duration_nanos > 0 && p.duration_nanos <= p.time_nanos) {
    r.time_sec = static_cast<double>(p.time_nanos) / 1e9;
    r.start_sec = static_cast<double>(p.time_nanos - p.duration_nanos) / 1e9;
  }
  return r;
}

bool SameRun(const RunId& a, const RunId& b) {
  if (a.pid != 0 && b.pid != 0 && a.pid != b.pid) return false;
  if (a.start_sec <= 0 || b.start_sec <= 0) return true;
  const double tolerance = 0.05 + 0.001 * std::abs(a.time_sec - b.time_sec);
  return std::abs(a.start_sec - b.start_sec) <= tolerance;
}

std::string AnotherRunNote(const RunId& now) {
  return "the endpoint now serves another run of the program (pid " + std::to_string(now.pid) +
         "): the series starts again from it";
}

std::vector<bool> NewestRun(const std::vector<LeakSnapshot>& snaps, std::string* note) {
  std::vector<bool> keep(snaps.size(), true);
  note->clear();
  size_t ref = snaps.size();
  for (size_t i = 0; i < snaps.size(); i++) {
    const RunId& s = snaps[i].run;
    if (s.time_sec <= 0 || s.start_sec <= 0) return keep;  // cannot tell runs apart
    if (ref == snaps.size() || s.time_sec > snaps[ref].run.time_sec) ref = i;
  }
  if (ref == snaps.size()) return keep;
  const RunId& r = snaps[ref].run;
  size_t left_out = 0;
  int64_t earlier_pid = -1;  // the one pid of the runs left out; 0 when several
  for (size_t i = 0; i < snaps.size(); i++) {
    const RunId& s = snaps[i].run;
    if (SameRun(s, r)) continue;
    keep[i] = false;
    left_out++;
    earlier_pid = earlier_pid == -1 || earlier_pid == s.pid ? s.pid : 0;
  }
  if (left_out == 0) return keep;
  auto clock = [](double sec) {
    time_t t = static_cast<time_t>(sec);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return std::string(buf);
  };
  *note = "left out " + std::to_string(left_out) + " snapshot" + (left_out == 1 ? "" : "s") +
          " of an earlier run (" +
          (earlier_pid == r.pid ? "the same process before it exec'd itself"
           : earlier_pid > 0    ? "pid " + std::to_string(earlier_pid) + ", another process"
                                : std::string("earlier processes")) +
          "): trends cover the newest run alone, started " + clock(r.start_sec) + " (pid " +
          std::to_string(r.pid) + "), whose heap started empty";
  return keep;
}

}  // namespace heapscope::analyze
