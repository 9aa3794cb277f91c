#include "analyze/leaks.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>

#include "analyze/function_names.h"
#include "analyze/node_table.h"
#include "analyze/runtime_comments.h"
#include "analyze/symbolizer.h"
#include "analyze/units.h"
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

std::vector<std::string> SplitKey(const std::string& key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t nl = key.find('\n', start);
    if (nl == std::string::npos) nl = key.size();
    if (nl > start) out.push_back(key.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string Bytes(double v) {
  return (v < 0 ? "-" : "") + Label(static_cast<int64_t>(std::llround(std::fabs(v))), "bytes");
}

std::string Count(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); i++) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string Duration(double sec) {
  char buf[64];
  // Rounded to the last unit shown first, so that 179.6 s is 3m00s, not
  // 2m60s.
  if (sec < 119.5) {
    std::snprintf(buf, sizeof buf, "%.0fs", sec);
  } else if (sec < 7170) {
    const double s = std::round(sec);
    std::snprintf(buf, sizeof buf, "%.0fm%02.0fs", std::floor(s / 60), std::fmod(s, 60));
  } else if (sec < 172800) {
    const double m = std::round(sec / 60);
    std::snprintf(buf, sizeof buf, "%.0fh%02.0fm", std::floor(m / 60), std::fmod(m, 60));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f days", sec / 86400);
  }
  return buf;
}

// "+1.2MB/s" for bytes, "+3.0 fds/s" for counts.
std::string Rate(LeakKind kind, double per_sec) {
  std::string sign = per_sec >= 0 ? "+" : "";
  if (kind == LeakKind::kHeap || kind == LeakKind::kMmap) return sign + Bytes(per_sec) + "/s";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%.2f %s/s", sign.c_str(), per_sec,
                kind == LeakKind::kFd ? "fds" : "threads");
  return buf;
}

std::string PerHour(LeakKind kind, double per_sec) {
  std::string sign = per_sec >= 0 ? "+" : "";
  if (kind == LeakKind::kHeap || kind == LeakKind::kMmap) return sign + Bytes(per_sec * 3600);
  return sign + Count(std::llround(per_sec * 3600));
}

// "12MB in 3,000 objects", "61 fds open", "7 threads live", "56MB in 7 mappings".
std::string Amount(LeakKind kind, int64_t value, int64_t objects) {
  switch (kind) {
    case LeakKind::kHeap:
      return Bytes(static_cast<double>(value)) + " in use in " + Count(objects) + " objects";
    case LeakKind::kFd:
      return Count(value) + " fds open";
    case LeakKind::kThread:
      return Count(value) + " threads live";
    case LeakKind::kMmap:
      return Bytes(static_cast<double>(value)) + " mapped in " + Count(objects) + " mappings";
  }
  return "";
}

struct Series {
  std::vector<double> bytes;
  std::vector<double> objects;
  InUse last;
};

using StackMap = std::unordered_map<std::string, InUse>;

// The series of every key present in any of `maps` (one per snapshot, in
// time order; absent keys: 0).
std::unordered_map<std::string, Series> CollectSeries(const std::vector<const StackMap*>& maps) {
  std::unordered_map<std::string, Series> all;
  for (size_t i = 0; i < maps.size(); i++) {
    for (const auto& [key, v] : *maps[i]) {
      Series& s = all[key];
      s.bytes.resize(maps.size(), 0.0);
      s.objects.resize(maps.size(), 0.0);
      s.bytes[i] = static_cast<double>(v.bytes);
      s.objects[i] = static_cast<double>(v.objects);
      if (i + 1 == maps.size()) s.last = v;
    }
  }
  for (auto& [key, s] : all) {
    s.bytes.resize(maps.size(), 0.0);
    s.objects.resize(maps.size(), 0.0);
  }
  return all;
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
    case LeakKind::kHeap: return "heap";
    case LeakKind::kFd: return "fd";
    case LeakKind::kThread: return "thread";
    case LeakKind::kMmap: return "mmap";
  }
  return "?";
}

std::string_view LeakKindProfileName(LeakKind kind) {
  switch (kind) {
    case LeakKind::kHeap: return "heap";
    case LeakKind::kFd: return "fds";
    case LeakKind::kThread: return "threadcreate";
    case LeakKind::kMmap: return "mmap";
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
  std::string final_name = "heap." + (pid != 0 ? std::to_string(pid) + "." : std::string()) +
                           "final.pb.gz";
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
      return format::Error{s + ": live endpoints are not supported yet; give a snapshot directory "
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
  return snaps;
}

int64_t LimitBase(const LeakReport& r) { return r.resident > 0 ? r.resident : r.total_inuse; }

LeakReport AnalyzeLeaks(const std::vector<LeakSnapshot>& all, const LeakOptions& options) {
  LeakReport r;
  // The profile at exit comes after the program's teardown: judged
  // without it when the snapshots before it are enough.
  r.running_only = all.size() > 1 && all.back().at_exit &&
                   all.size() - 1 >= options.trend.min_snapshots;
  std::span<const LeakSnapshot> snaps(all.data(), all.size() - (r.running_only ? 1 : 0));
  r.snapshots = snaps.size();
  r.min_snapshots = options.trend.min_snapshots;
  r.enough_snapshots = snaps.size() >= options.trend.min_snapshots;
  r.limit = options.limit;
  r.limit_source = options.limit_source;
  if (!r.limit) {
    // The limit the profiled process ran under, from its newest profile
    // that names one (the one at exit included).
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->memory_limit) {
        r.limit = it->memory_limit;
        r.limit_source = "the cgroup's memory limit";
        break;
      }
    }
  }
  if (snaps.empty()) return r;

  // The x axis: wall-clock times of the snapshots. Without usable times
  // (missing, or not increasing) fall back to one second per snapshot.
  std::vector<double> t(snaps.size());
  bool times_ok = true;
  for (size_t i = 0; i < snaps.size(); i++) {
    t[i] = snaps[i].time_sec - snaps[0].time_sec;
    if (snaps[i].time_sec <= 0 || (i > 0 && t[i] <= t[i - 1])) times_ok = false;
  }
  if (!times_ok) {
    for (size_t i = 0; i < t.size(); i++) t[i] = static_cast<double>(i);
    if (snaps.size() > 1) {
      r.warnings.push_back("snapshots carry no increasing times; assuming one second apart");
    }
  }
  r.duration_sec = t.back();

  TrendOptions trend = options.trend;
  double rate = 0;
  for (const auto& s : snaps) rate = std::max(rate, s.rate);
  if (rate <= 0) {
    rate = 524288;
    r.warnings.push_back("sampling rate unknown; assuming the runtime's default 512KiB");
  }
  trend.rate = rate;
  r.rate = rate;
  r.heap_growth_floor_per_sec = GrowthFloorPerSec(trend, r.duration_sec);

  std::vector<double> totals;
  for (const auto& s : snaps) totals.push_back(static_cast<double>(s.total.bytes));
  Trend total_trend = ClassifyTrend(t, totals, trend);
  r.heap_not_seen = snaps.back().heap_not_seen;
  r.total_inuse = snaps.back().total.bytes;
  r.total_inuse_objects = snaps.back().total.objects;
  r.total_growth_per_sec = total_trend.slope;
  r.total_verdict = total_trend.verdict;
  r.resident = snaps.back().resident;
  auto time_to = [&](int64_t limit) -> std::optional<double> {
    const int64_t base = LimitBase(r);
    if (base >= limit) return 0.0;
    if (r.total_growth_per_sec > 0) {
      return static_cast<double>(limit - base) / r.total_growth_per_sec;
    }
    return std::nullopt;
  };
  if (r.limit && *r.limit > 0) r.time_to_limit_sec = time_to(*r.limit);
  // memory.high of the newest profile that names one, when it comes before
  // the limit.
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (!it->memory_high) continue;
    if (!r.limit || *it->memory_high < *r.limit) {
      r.memory_high = it->memory_high;
      r.time_to_memory_high_sec = time_to(*r.memory_high);
    }
    break;
  }
  // Resource kinds present in any snapshot: their process-wide series over
  // the snapshots that carry them (the runtime writes a kind's profile only
  // once the program used it; a live endpoint may fail to answer once).
  TrendOptions exact = options.trend;
  exact.exact = true;
  exact.rate = 1;
  struct KindSeries {
    std::vector<double> t;
    std::vector<const StackMap*> maps;
  };
  KindSeries kind_series[3];
  for (LeakKind kind : kResourceKinds) {
    const size_t ri = ResourceIndex(kind);
    KindSummary ks;
    ks.kind = kind;
    std::vector<double> totals, total_objects, used_t, used;
    for (size_t i = 0; i < snaps.size(); i++) {
      const ResourceSnapshot& res = snaps[i].resources[ri];
      if (!res.present) continue;
      kind_series[ri].t.push_back(t[i]);
      kind_series[ri].maps.push_back(&res.stacks);
      totals.push_back(static_cast<double>(res.total.bytes));
      total_objects.push_back(static_cast<double>(res.total.objects));
      if (res.limit_used) {
        used_t.push_back(t[i]);
        used.push_back(static_cast<double>(*res.limit_used));
      }
      ks.total = res.total.bytes;
      ks.total_objects = res.total.objects;
      if (res.limit) {
        ks.limit = res.limit;
        ks.limit_used = res.limit_used.value_or(res.total.objects);
        ks.limit_name = res.limit_name;
      }
    }
    ks.snapshots = totals.size();
    // Served but never used (a live endpoint answers for every kind).
    if (ks.snapshots == 0 || *std::max_element(totals.begin(), totals.end()) <= 0) continue;
    Trend tr = ClassifyTrend(kind_series[ri].t, totals, exact);
    ks.growth_per_sec = tr.slope;
    ks.verdict = tr.verdict;
    // Limits count (descriptors, tasks, mappings). mmap: the process's
    // own count of mappings where the profiles carry it, since the kernel
    // merges a new anonymous mapping into its neighbour when they match
    // (a leak of them may then never add to the count); else the count
    // the runtime made. Tasks: the program's threads (other processes'
    // come and go in the cgroup's count).
    if (kind == LeakKind::kMmap) {
      ks.limit_growth_per_sec = used.size() >= 2 ? TheilSenSlope(used_t, used)
                                                 : TheilSenSlope(kind_series[ri].t, total_objects);
    } else {
      ks.limit_growth_per_sec = ks.growth_per_sec;
    }
    if (ks.limit && ks.verdict == Verdict::kGrowing && ks.limit_growth_per_sec > 0) {
      double left = static_cast<double>(*ks.limit - ks.limit_used);
      ks.time_to_limit_sec = left <= 0 ? 0 : left / ks.limit_growth_per_sec;
    }
    r.resources.push_back(ks);
  }
  if (!r.enough_snapshots) return r;

  // The frames shown for each key, the newest snapshot's (the profile at
  // exit included: a JIT may name its code only then).
  ShownFrames shown;
  FrameSources sources;
  for (const LeakSnapshot& s : all) {
    for (const auto& [k, v] : s.shown) shown[k] = v;
    for (const auto& [k, v] : s.sources) sources[k] = v;
    for (const ResourceSnapshot& res : s.resources) {
      for (const auto& [k, v] : res.shown) shown[k] = v;
      for (const auto& [k, v] : res.sources) sources[k] = v;
    }
  }

  auto classify = [&](LeakKind kind, const TrendOptions& opts, double total_growth,
                      const std::vector<double>& times, const std::vector<const StackMap*>& maps,
                      bool by_function, std::vector<LeakSuspect>* out,
                      std::map<std::string, size_t>* ruled_out,
                      const std::unordered_map<std::string, AgeHistogram>* ages) {
    auto series = CollectSeries(maps);
    for (auto& [key, s] : series) {
      if (*std::max_element(s.bytes.begin(), s.bytes.end()) <= 0) continue;
      SeriesAges series_ages;
      const SeriesAges* with_ages = nullptr;
      if (ages != nullptr) {
        auto it = ages->find(key);
        if (it != ages->end()) {
          series_ages.by_age = it->second;
          series_ages.objects = static_cast<double>(s.last.objects);
          with_ages = &series_ages;
        }
      }
      Trend tr = ClassifyTrend(times, s.bytes, opts, with_ages);
      if (tr.verdict == Verdict::kNotEnoughSnapshots) continue;
      if (tr.verdict != Verdict::kGrowing) {
        if (ruled_out) {
          (*ruled_out)[std::string(VerdictName(tr.verdict))]++;
          if (tr.turned_over) (*ruled_out)[kTurnedOver]++;
        }
        continue;
      }
      LeakSuspect sus;
      sus.kind = kind;
      sus.verdict = tr.verdict;
      auto shown_it = by_function ? shown.end() : shown.find(key);
      sus.frames = by_function ? std::vector<std::string>{key}
                               : SplitKey(shown_it != shown.end() ? shown_it->second : key);
      if (!by_function) {
        auto src = sources.find(key);
        if (src != sources.end() && src->second.size() == sus.frames.size()) {
          sus.sources = src->second;
        }
      }
      sus.inuse = s.last.bytes;
      sus.inuse_objects = s.last.objects;
      sus.growth_per_sec = tr.slope;
      // Resource limits count: mmap's mappings, the others' value itself.
      sus.limit_growth_per_sec =
          kind == LeakKind::kMmap ? TheilSenSlope(times, s.objects) : tr.slope;
      sus.confidence = tr.confidence;
      sus.under_peaks = tr.under_peaks;
      sus.share_of_growth = total_growth > 0 ? std::min(1.0, tr.slope / total_growth) : 0;
      if (with_ages != nullptr) {
        for (const AgeBytes& a : with_ages->by_age) {
          if (a.bytes > 0) sus.oldest_age_sec = a.age_sec;  // sorted: the last is the oldest
        }
      }
      out->push_back(std::move(sus));
    }
    std::sort(out->begin(), out->end(), [](const LeakSuspect& a, const LeakSuspect& b) {
      if (a.growth_per_sec != b.growth_per_sec) return a.growth_per_sec > b.growth_per_sec;
      return a.frames < b.frames;
    });
    for (size_t i = 0; i < out->size(); i++) (*out)[i].rank = i + 1;
  };
  auto cut = [&](std::vector<LeakSuspect>* v) {
    if (options.max_suspects > 0 && v->size() > options.max_suspects) {
      v->resize(options.max_suspects);
    }
  };
  std::vector<const StackMap*> heap_stacks, heap_functions;
  for (const auto& s : snaps) {
    heap_stacks.push_back(&s.stacks);
    heap_functions.push_back(&s.functions);
  }
  std::vector<LeakSuspect> heap;
  // The objects' ages at the window's last snapshot (sampled heap profiles
  // from this runtime carry them).
  const LeakSnapshot& newest = snaps.back();
  classify(LeakKind::kHeap, trend, r.total_growth_per_sec, t, heap_stacks, false, &heap,
           &r.ruled_out, &newest.stack_ages);
  classify(LeakKind::kHeap, trend, r.total_growth_per_sec, t, heap_functions, true, &r.functions,
           nullptr, &newest.function_ages);
  r.suspects_total = heap.size();
  cut(&heap);
  cut(&r.functions);
  r.suspects = std::move(heap);
  for (KindSummary& ks : r.resources) {
    const KindSeries& k = kind_series[ResourceIndex(ks.kind)];
    std::vector<LeakSuspect> found;
    classify(ks.kind, exact, ks.growth_per_sec, k.t, k.maps, false, &found, &r.ruled_out,
             nullptr);
    if (ks.limit) {
      const double left = static_cast<double>(*ks.limit - ks.limit_used);
      for (LeakSuspect& s : found) {
        // Mappings: no faster than the process's count grows (merged ones).
        double rate = ks.kind == LeakKind::kMmap
                          ? std::min(s.limit_growth_per_sec, ks.limit_growth_per_sec)
                          : s.limit_growth_per_sec;
        if (rate > 0) s.time_to_limit_sec = std::max(0.0, left / rate);
      }
    }
    ks.suspects_total = found.size();
    r.suspects_total += found.size();
    cut(&found);
    r.suspects.insert(r.suspects.end(), found.begin(), found.end());
  }
  if (r.limit && *r.limit > 0) {
    const double left = static_cast<double>(*r.limit - LimitBase(r));
    for (auto* list : {&r.suspects, &r.functions}) {
      for (LeakSuspect& s : *list) {
        if (s.kind == LeakKind::kHeap && s.growth_per_sec > 0) {
          s.time_to_limit_sec = std::max(0.0, left / s.growth_per_sec);
        }
      }
    }
  }
  // Leading suspects of every kind first: by rank within the kind, then kind.
  std::stable_sort(r.suspects.begin(), r.suspects.end(),
                   [](const LeakSuspect& a, const LeakSuspect& b) {
                     if (a.rank != b.rank) return a.rank < b.rank;
                     return a.kind < b.kind;
                   });
  return r;
}

std::string FormatLeaksText(const LeakReport& r) {
  std::string out;
  char buf[512];
  for (const auto& w : r.warnings) out += "warning: " + w + "\n";
  std::string how = !r.heap_not_seen.empty() ? "not profiled"
                    : r.rate <= 1              ? "every allocation recorded"
                                               : "sampled every " + Bytes(r.rate) + " on average";
  std::snprintf(buf, sizeof buf, "leak trends: %zu snapshots over %.1fs (heap %s)\n",
                r.snapshots, r.duration_sec, how.c_str());
  out += buf;
  if (r.running_only) {
    out += "judged while running: the profile at exit, written after the program's own "
           "teardown, is left out\n";
  }
  if (!r.heap_not_seen.empty()) {
    out += "heap: not profiled: malloc comes from " + r.heap_not_seen +
           ", an allocator ahead of the runtime (descriptors, threads and mappings are "
           "profiled)\n";
  } else {
    std::snprintf(buf, sizeof buf, "process in use: %s in %s objects, %s%s/s (%s/h) over the window\n",
                  Bytes(static_cast<double>(r.total_inuse)).c_str(),
                  Count(r.total_inuse_objects).c_str(), r.total_growth_per_sec >= 0 ? "+" : "",
                  Bytes(r.total_growth_per_sec).c_str(),
                  Bytes(r.total_growth_per_sec * 3600).c_str());
    out += buf;
    if (r.heap_growth_floor_per_sec > 0) {
      out += "slowest heap leak this window can show: about " + Bytes(r.heap_growth_floor_per_sec) +
             "/s (watch longer, or sample more often with --rate, to see slower ones)\n";
    }
  }
  for (const KindSummary& k : r.resources) {
    out += std::string(LeakKindName(k.kind)) + ": " + Amount(k.kind, k.total, k.total_objects) +
           " now, " + Rate(k.kind, k.growth_per_sec) + " over the window (" +
           std::to_string(k.snapshots) + " of " + std::to_string(r.snapshots) + " snapshots)";
    if (k.time_to_limit_sec) {
      // What counts towards the limit, when it is not the count just shown.
      std::string used;
      if (k.kind == LeakKind::kThread) {
        used = ", " + Count(k.limit_used) +
               (k.limit_name.find("cgroup") != std::string::npos ? " tasks in the cgroup now"
                                                                 : " tasks on the machine now");
      } else if (k.kind == LeakKind::kMmap) {
        used = ", " + Count(k.limit_used) + " mappings in the process now";
      }
      out += "; " + k.limit_name + " (" + Count(*k.limit) + used + ") is reached";
      if (*k.time_to_limit_sec > 0) {
        out += " in about " + Duration(*k.time_to_limit_sec) + " at this rate";
      }
    }
    out += "\n";
  }
  if (r.limit) {
    out += "limit " + Bytes(static_cast<double>(*r.limit)) + " (" + r.limit_source + "): ";
    out += r.resident > 0 ? Bytes(static_cast<double>(r.resident)) + " resident now; "
                          : Bytes(static_cast<double>(r.total_inuse)) + " of heap in use now; ";
    if (!r.time_to_limit_sec) {
      out += "not approaching it at the current rate\n";
    } else if (*r.time_to_limit_sec <= 0) {
      out += "already reached\n";
    } else {
      out += "reached in about " + Duration(*r.time_to_limit_sec) +
             " at the heap's current growth rate\n";
    }
  }
  if (r.memory_high) {
    out += "memory.high " + Bytes(static_cast<double>(*r.memory_high)) +
           " (the cgroup's throttling threshold: past it the kernel reclaims hard and slows the "
           "process down): ";
    if (!r.time_to_memory_high_sec) {
      out += "not approaching it at the current rate\n";
    } else if (*r.time_to_memory_high_sec <= 0) {
      out += "already past it\n";
    } else {
      out += "reached in about " + Duration(*r.time_to_memory_high_sec) + "\n";
    }
  }
  if (!r.enough_snapshots) {
    std::snprintf(buf, sizeof buf,
                  "not enough snapshots: %zu (need at least %zu to call anything growing)\n",
                  r.snapshots, r.min_snapshots);
    out += buf;
    return out;
  }
  if (r.suspects.empty()) {
    out += "no leak suspects: nothing keeps growing beyond the sampling noise\n";
  } else {
    std::snprintf(buf, sizeof buf,
                  "\nleak suspects (growing), leading of each kind first (%zu of %zu):\n",
                  r.suspects.size(), r.suspects_total);
    out += buf;
    for (size_t i = 0; i < r.suspects.size(); i++) {
      const LeakSuspect& s = r.suspects[i];
      std::string oldest =
          s.oldest_age_sec ? " (oldest at least " + Duration(*s.oldest_age_sec) + " old)" : "";
      if (s.under_peaks) oldest += ", between temporary peaks";
      std::snprintf(buf, sizeof buf,
                    "%2zu. %s %s (%s/h), %s now%s, confidence %.2f%%, %.0f%% of %s growth\n",
                    i + 1, std::string(LeakKindName(s.kind)).c_str(),
                    Rate(s.kind, s.growth_per_sec).c_str(),
                    PerHour(s.kind, s.growth_per_sec).c_str(),
                    Amount(s.kind, s.inuse, s.inuse_objects).c_str(), oldest.c_str(),
                    100 * s.confidence, 100 * s.share_of_growth,
                    std::string(LeakKindName(s.kind)).c_str());
      out += buf;
      if (s.time_to_limit_sec) {
        // Before the newline: the head line goes on. The heap's limit is
        // the one on the line "limit ..." above; the others' their kind's.
        std::string name = "the limit";
        for (const KindSummary& k : r.resources) {
          if (k.kind == s.kind && s.kind != LeakKind::kHeap) name = k.limit_name;
        }
        out.pop_back();
        out += *s.time_to_limit_sec <= 0
                   ? "; " + name + " is reached\n"
                   : "; " + name + " in about " + Duration(*s.time_to_limit_sec) +
                         " at this rate alone\n";
      }
      // Six frames; a seventh takes the line "... 1 more frame" would.
      const size_t kFrames = s.frames.size() == 7 ? 7 : 6;
      for (size_t f = 0; f < s.frames.size() && f < kFrames; f++) {
        out += "      " + s.frames[f];
        if (f < s.sources.size() && !s.sources[f].empty()) {
          // The file's name: the JSON has the whole path.
          std::string_view where = s.sources[f];
          if (size_t slash = where.rfind('/'); slash != where.npos) where.remove_prefix(slash + 1);
          out += "  ";
          out += where;
        }
        out += "\n";
      }
      if (s.frames.size() > kFrames) {
        out += "      ... " + std::to_string(s.frames.size() - kFrames) + " more frames\n";
      }
    }
    if (!r.functions.empty()) {
      out += "\ngrowing heap functions (flat, leaf):\n";
      for (const LeakSuspect& s : r.functions) {
        std::snprintf(buf, sizeof buf, "  +%s/s  in use %s  %s\n", Bytes(s.growth_per_sec).c_str(),
                      Bytes(static_cast<double>(s.inuse)).c_str(), s.frames[0].c_str());
        out += buf;
      }
    }
  }
  static const std::pair<const char*, const char*> kWhy[] = {
      {"plateau", "plateau (bounded caches)"},
      {"transient", "transient (temporary peaks)"},
      {"constant", "constant"},
      {"shrinking", "shrinking"}};
  std::string ruled;
  for (const auto& [name, label] : kWhy) {
    auto it = r.ruled_out.find(name);
    if (it == r.ruled_out.end() || it->second == 0) continue;
    if (!ruled.empty()) ruled += ", ";
    ruled += std::to_string(it->second) + " " + label;
  }
  auto turned = r.ruled_out.find(kTurnedOver);
  if (turned != r.ruled_out.end() && turned->second != 0) {
    ruled += "; " + std::to_string(turned->second) +
             " of them rose but kept little of what they added early (objects that turn over)";
  }
  out += "\nruled out: " + (ruled.empty() ? std::string("nothing") : ruled) + "\n";
  return out;
}

std::string FormatLeaksJson(const LeakReport& r) {
  using J = nlohmann::ordered_json;
  auto suspect = [](const LeakSuspect& s) {
    J j;
    j["kind"] = std::string(LeakKindName(s.kind));
    j["rank"] = s.rank;
    j["unit"] = s.kind == LeakKind::kHeap || s.kind == LeakKind::kMmap ? "bytes" : "count";
    j["verdict"] = std::string(VerdictName(s.verdict));
    j["frames"] = s.frames;
    j["sources"] = s.sources.size() == s.frames.size() ? s.sources
                                                       : std::vector<std::string>(s.frames.size());
    j["inuse"] = s.inuse;
    j["inuse_objects"] = s.inuse_objects;
    j["growth_per_sec"] = s.growth_per_sec;
    j["growth_per_hour"] = s.growth_per_sec * 3600;
    j["confidence"] = s.confidence;
    j["share_of_growth"] = s.share_of_growth;
    j["oldest_age_sec"] = s.oldest_age_sec ? J(*s.oldest_age_sec) : J(nullptr);
    j["under_peaks"] = s.under_peaks;
    j["time_to_limit_sec"] = s.time_to_limit_sec ? J(*s.time_to_limit_sec) : J(nullptr);
    return j;
  };
  J j;
  j["snapshots"] = r.snapshots;
  j["min_snapshots"] = r.min_snapshots;
  j["enough_snapshots"] = r.enough_snapshots;
  j["duration_sec"] = r.duration_sec;
  j["rate"] = r.rate;
  j["heap_growth_floor_per_sec"] = r.heap_growth_floor_per_sec;
  J sus = J::array();
  for (const auto& s : r.suspects) sus.push_back(suspect(s));
  j["suspects"] = sus;
  J fns = J::array();
  for (const auto& s : r.functions) fns.push_back(suspect(s));
  j["functions"] = fns;
  J ruled = J::object();
  for (const char* v : {"plateau", "transient", "constant", "shrinking"}) {
    auto it = r.ruled_out.find(v);
    ruled[v] = it == r.ruled_out.end() ? 0 : it->second;
  }
  auto turned = r.ruled_out.find(kTurnedOver);
  ruled[kTurnedOver] = turned == r.ruled_out.end() ? 0 : turned->second;
  j["ruled_out"] = ruled;
  j["total_inuse"] = r.total_inuse;
  j["total_inuse_objects"] = r.total_inuse_objects;
  j["total_growth_per_sec"] = r.total_growth_per_sec;
  j["total_verdict"] = std::string(VerdictName(r.total_verdict));
  j["running_only"] = r.running_only;
  j["heap_not_seen"] = r.heap_not_seen.empty() ? J() : J(r.heap_not_seen);
  J kinds = J::array();
  for (const KindSummary& k : r.resources) {
    J kj;
    kj["kind"] = std::string(LeakKindName(k.kind));
    kj["snapshots"] = k.snapshots;
    kj["total"] = k.total;
    kj["total_objects"] = k.total_objects;
    kj["growth_per_sec"] = k.growth_per_sec;
    kj["verdict"] = std::string(VerdictName(k.verdict));
    kj["suspects_total"] = k.suspects_total;
    kj["limit"] = k.limit ? J(*k.limit) : J(nullptr);
    kj["limit_name"] = k.limit ? J(k.limit_name) : J(nullptr);
    kj["limit_used"] = k.limit ? J(k.limit_used) : J(nullptr);
    kj["limit_growth_per_sec"] = k.limit ? J(k.limit_growth_per_sec) : J(nullptr);
    kj["time_to_limit_sec"] = k.time_to_limit_sec ? J(*k.time_to_limit_sec) : J(nullptr);
    kinds.push_back(kj);
  }
  j["resources"] = kinds;
  j["suspects_total"] = r.suspects_total;
  j["limit"] = r.limit ? J(*r.limit) : J(nullptr);
  j["limit_source"] = r.limit ? J(r.limit_source) : J(nullptr);
  j["resident"] = r.resident > 0 ? J(r.resident) : J(nullptr);
  j["time_to_limit_sec"] = r.time_to_limit_sec ? J(*r.time_to_limit_sec) : J(nullptr);
  j["memory_high"] = r.memory_high ? J(*r.memory_high) : J(nullptr);
  j["time_to_memory_high_sec"] =
      r.time_to_memory_high_sec ? J(*r.time_to_memory_high_sec) : J(nullptr);
  j["warnings"] = r.warnings;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace heapscope::analyze
