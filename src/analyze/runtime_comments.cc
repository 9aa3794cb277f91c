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
