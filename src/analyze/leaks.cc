// The verdicts of `heapscope leaks` over a series of snapshots: per stack,
// per function and per resource kind, with growth rates, shares and the
// time left to each limit (leaks.h). Reading the series is in
// leak_snapshots.cc, the renderings in leaks_format.cc.
#include "analyze/leaks.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace heapscope::analyze {
namespace {

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

}  // namespace

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

}  // namespace heapscope::analyze
