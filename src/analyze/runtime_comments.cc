#include "analyze/runtime_comments.h"

#include <string_view>

namespace heapscope::analyze {

std::map<std::string, std::string> RuntimeComments(const format::Profile& p) {
  std::map<std::string, std::string> kv;
  for (auto idx : p.comments) {
    std::string_view c = p.String(idx);
    if (c.rfind("heapscope: ", 0) != 0) continue;
    c.remove_prefix(11);
    while (!c.empty()) {
      size_t sp = c.find(' ');
      std::string_view tok = c.substr(0, sp);
      size_t eq = tok.find('=');
      if (eq != std::string_view::npos) {
        kv[std::string(tok.substr(0, eq))] = std::string(tok.substr(eq + 1));
      }
      if (sp == std::string_view::npos) break;
      c.remove_prefix(sp + 1);
    }
  }
  return kv;
}

}  // namespace heapscope::analyze

namespace heapscope::analyze {
namespace {

constexpr const char* kRssParts[] = {"heap",           "allocator_overhead",
                                     "allocator_free", "thread_stacks",
                                     "anon_mappings",  "files",
                                     "code",           "other"};

bool ParseInt(const std::string& s, int64_t* out) { return ParseCommentInt(s, out); }

}  // namespace

bool ParseCommentInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

format::StringIndex AgeLabelKey(const format::Profile& p) {
  for (size_t k = 1; k < p.strings().size(); k++) {
    if (p.strings()[k] == "age") return static_cast<format::StringIndex>(k);
  }
  return 0;
}

double SampleAgeSec(const format::Profile& p, size_t i, format::StringIndex age_key) {
  if (age_key == 0) return -1;
  for (const format::Label& l : p.samples.Labels(i)) {
    if (l.key != age_key || l.str != 0) continue;
    const std::string_view unit = p.String(l.num_unit);
    const double scale = unit == "ms" || unit == "milliseconds" ? 1e-3 : 1;
    return l.num < 0 ? -1 : static_cast<double>(l.num) * scale;
  }
  return -1;
}

std::optional<RssParts> RssFromComments(const std::map<std::string, std::string>& kv) {
  RssParts r;
  auto total = kv.find("rss");
  if (total == kv.end() || !ParseInt(total->second, &r.total)) return std::nullopt;
  auto alloc = kv.find("allocator");
  r.allocator_known = alloc != kv.end() && alloc->second != "unknown";
  for (const char* name : kRssParts) {
    auto it = kv.find(std::string("rss_") + name);
    if (it == kv.end()) {
      if (!r.allocator_known && std::string_view(name).rfind("allocator_", 0) == 0) continue;
      return std::nullopt;
    }
    int64_t v;
    if (!ParseInt(it->second, &v)) return std::nullopt;
    r.parts.emplace_back(name, v);
  }
  auto vm = kv.find("vm_rss");
  if (vm != kv.end()) ParseInt(vm->second, &r.vm_rss);
  if (auto it = kv.find("heap_not_seen"); it != kv.end() && it->second == "1") {
    r.heap_not_seen = true;
    std::erase_if(r.parts, [](const auto& part) { return part.first == "heap"; });
  }
  return r;
}

std::string RssPartLabel(const std::string& part) {
  if (part == "heap") return "live heap";
  if (part == "allocator_overhead") return "allocator overhead";
  if (part == "allocator_free") return "free in the allocator";
  if (part == "thread_stacks") return "thread stacks";
  if (part == "anon_mappings") return "anonymous mappings";
  if (part == "files") return "file-backed";
  if (part == "code") return "code";
  if (part == "other") return "other";
  return part;
}

}  // namespace heapscope::analyze
