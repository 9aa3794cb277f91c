#include "analyze/rss_report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

std::string Share(int64_t part, int64_t whole) {
  if (whole == 0) return "";
  char buf[32];
  snprintf(buf, sizeof buf, " (%.1f%%)",
           100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

std::string Bytes(int64_t v) { return Label(v, "bytes"); }

// The web page's fmtValue(v, 'bytes'): B, KiB, MiB, ... with 0-2 decimals.
std::string IecBytes(int64_t v) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double x = static_cast<double>(v < 0 ? -v : v);
  int i = 0;
  while (x >= 1024 && i < 4) {
    x /= 1024;
    i++;
  }
  char buf[48];
  int decimals = i == 0 || x >= 100 ? 0 : x >= 10 ? 1 : 2;
  snprintf(buf, sizeof buf, "%s%.*f %s", v < 0 ? "-" : "", decimals, x, kUnits[i]);
  return buf;
}

}  // namespace

std::string RssPartsLine(const RssParts& r) {
  std::string s = "resident memory " + Bytes(r.total) + ":";
  bool first = true;
  for (const auto& [name, v] : r.parts) {
    s += first ? " " : ", ";
    first = false;
    s += RssPartLabel(name) + " " + Bytes(v) + Share(v, r.total);
  }
  if (r.heap_not_seen) {
    s += "; the heap is not profiled (the program's own malloc): it is in anonymous mappings "
         "and other";
  } else if (!r.allocator_known) {
    s += "; the allocator's overhead and free memory are unknown";
  }
  return s;
}

std::string RssGrowthLine(const RssParts& first, const RssParts& last, SizeStyle style) {
  auto Bytes = [style](int64_t v) {
    return style == SizeStyle::kIec ? IecBytes(v) : Label(v, "bytes");
  };
  // Where one side knows the allocator's parts and the other does not
  // (mallinfo2 not read for it), the other's "other" holds them: compare
  // them there on both sides.
  bool fold = first.allocator_known != last.allocator_known;
  auto Folded = [fold](const RssParts& r) {
    std::map<std::string, int64_t> m;
    for (const auto& [name, v] : r.parts) {
      bool allocator = name == "allocator_overhead" || name == "allocator_free";
      m[fold && allocator ? "other" : name] += v;
    }
    return m;
  };
  std::map<std::string, int64_t> before = Folded(first);
  struct Delta {
    std::string name;
    int64_t bytes;
  };
  std::vector<Delta> grew, shrank;
  for (const auto& [name, v] : Folded(last)) {
    auto it = before.find(name);
    if (it == before.end()) continue;  // not comparable
    int64_t d = v - it->second;
    if (d > 0) grew.push_back({name, d});
    if (d < 0) shrank.push_back({name, -d});
  }
  auto larger = [](const Delta& a, const Delta& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.name < b.name;
  };
  std::sort(grew.begin(), grew.end(), larger);
  std::sort(shrank.begin(), shrank.end(), larger);
  int64_t total = last.total - first.total;
  std::string s;
  if (total > 0) {
    s = "resident memory grew " + Bytes(total) + " (" + Bytes(first.total) + " to " +
        Bytes(last.total) + ")";
    // Shares of the growth mean something while what grew is about what
    // the total did; when parts that shrank offset most of it (10MB
    // grown, 9.9MB shrunk), they would read 460%: the parts alone then.
    int64_t grown = 0;
    for (const Delta& d : grew) grown += d.bytes;
    const bool shares = grown * 2 <= total * 3;
    // Parts under 1% of the growth are summed, not named one by one.
    bool lead = true;
    int64_t small = 0;
    int nsmall = 0;
    for (const Delta& d : grew) {
      if (!lead && d.bytes * 100 < total) {
        small += d.bytes;
        nsmall++;
        continue;
      }
      s += !lead ? ", " : shares ? ", of which " : ", the net of parts that grew: ";
      lead = false;
      s += RssPartLabel(d.name) + " " + Bytes(d.bytes) + (shares ? Share(d.bytes, total) : "");
    }
    if (nsmall == 1) s += ", one more part " + Bytes(small);
    if (nsmall > 1) s += ", " + std::to_string(nsmall) + " more parts " + Bytes(small);
  } else if (total < 0) {
    s = "resident memory shrank " + Bytes(-total) + " (" + Bytes(first.total) + " to " +
        Bytes(last.total) + ")";
    if (!grew.empty()) {
      s += "; grew:";
      bool lead = true;
      for (const Delta& d : grew) {
        s += lead ? " " : ", ";
        lead = false;
        s += RssPartLabel(d.name) + " " + Bytes(d.bytes);
      }
    }
  } else {
    s = "resident memory did not change (" + Bytes(last.total) + ")";
  }
  if (!shrank.empty()) {
    s += "; shrank:";
    bool lead = true;
    for (const Delta& d : shrank) {
      s += lead ? " " : ", ";
      lead = false;
      s += RssPartLabel(d.name) + " " + Bytes(d.bytes);
    }
  }
  return s;
}

}  // namespace heapscope::analyze
