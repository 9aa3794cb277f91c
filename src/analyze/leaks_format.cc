// The leak report as text (what `heapscope leaks` and `heapscope run`
// print) and as JSON (the schema in the README).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "analyze/leaks.h"
#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

std::string Bytes(double v) {
  return (v < 0 ? "-" : "") + Label(static_cast<int64_t>(std::llround(std::fabs(v))), "bytes");
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
  return sign + Grouped(std::llround(per_sec * 3600));
}

// "12MB in 3,000 objects", "61 fds open", "7 threads live", "56MB of address
// space in 7 mappings" (not memory: MariaDB reserves 8TB for its buffer pool,
// PROT_NONE, and resident memory says what is used).
std::string Amount(LeakKind kind, int64_t value, int64_t objects) {
  switch (kind) {
    case LeakKind::kHeap:
      return Bytes(static_cast<double>(value)) + " in use in " + Grouped(objects) + " objects";
    case LeakKind::kFd:
      return Grouped(value) + " fds open";
    case LeakKind::kThread:
      return Grouped(value) + " threads live";
    case LeakKind::kMmap:
      return Bytes(static_cast<double>(value)) + " of address space in " + Grouped(objects) +
             " mappings";
  }
  return "";
}

}  // namespace

std::string FormatLeaksText(const LeakReport& r) {
  std::string out;
  char buf[512];
  for (const auto& w : r.warnings) out += "warning: " + w + "\n";
  std::string how = !r.heap_not_seen.empty() ? "not profiled"
                    : r.rate <= 1            ? "every allocation recorded"
                                             : "sampled every " + Bytes(r.rate) + " on average";
  std::snprintf(buf, sizeof buf, "leak trends: %zu snapshots over %.1fs (heap %s)\n", r.snapshots,
                r.duration_sec, how.c_str());
  out += buf;
  if (r.running_only) {
    out +=
        "judged while running: the profile at exit, written after the program's own "
        "teardown, is left out\n";
  }
  if (!r.heap_not_seen.empty()) {
    out += "heap: not profiled: malloc comes from " + r.heap_not_seen +
           ", an allocator ahead of the runtime (descriptors, threads and mappings are "
           "profiled)\n";
  } else {
    std::snprintf(
        buf, sizeof buf, "process in use: %s in %s objects, %s%s/s (%s/h) over the window\n",
        Bytes(static_cast<double>(r.total_inuse)).c_str(), Grouped(r.total_inuse_objects).c_str(),
        r.total_growth_per_sec >= 0 ? "+" : "", Bytes(r.total_growth_per_sec).c_str(),
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
    // A slope over a series that went up and back is not a leak: say what
    // the series did.
    switch (k.verdict) {
      case Verdict::kTransient:
        out += ", transient: rose and fell back";
        break;
      case Verdict::kPlateau:
        out += ", plateau: rose, then levelled off";
        break;
      case Verdict::kShrinking:
        out += ", shrinking";
        break;
      default:
        break;
    }
    if (k.time_to_limit_sec) {
      // What counts towards the limit, when it is not the count just shown.
      std::string used;
      if (k.kind == LeakKind::kThread) {
        used = ", " + Grouped(k.limit_used) +
               (k.limit_name.find("cgroup") != std::string::npos ? " tasks in the cgroup now"
                                                                 : " tasks on the machine now");
      } else if (k.kind == LeakKind::kMmap) {
        used = ", " + Grouped(k.limit_used) + " mappings in the process now";
      }
      out += "; " + k.limit_name + " (" + Grouped(*k.limit) + used + ") is reached";
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
      std::snprintf(
          buf, sizeof buf, "%2zu. %s %s (%s/h), %s now%s, confidence %.2f%%, %.0f%% of %s growth\n",
          i + 1, std::string(LeakKindName(s.kind)).c_str(), Rate(s.kind, s.growth_per_sec).c_str(),
          PerHour(s.kind, s.growth_per_sec).c_str(),
          Amount(s.kind, s.inuse, s.inuse_objects).c_str(), oldest.c_str(), 100 * s.confidence,
          100 * s.share_of_growth, std::string(LeakKindName(s.kind)).c_str());
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
    j["sources"] =
        s.sources.size() == s.frames.size() ? s.sources : std::vector<std::string>(s.frames.size());
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
