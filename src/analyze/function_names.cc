#include "analyze/function_names.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "base/cxx_names.h"

namespace heapscope::analyze {
namespace {

// pprof's looksLikeDemangledCPlusPlus.
// (Plain loops here: std::string_view::find_first_of calls memchr once per
// character, and this runs over every function name of a profile.)
bool LooksLikeDemangledCPlusPlus(std::string_view name) {
  bool cplusplus = false;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    if (c == '<') {
      if (i > 0 && name[i - 1] == '.') return false;  // Java "class.<init>".
      cplusplus = true;
    } else if (c == '>' || c == '[' || c == ']') {
      cplusplus = true;
    } else if (c == ':' && i + 1 < name.size() && name[i + 1] == ':') {
      cplusplus = true;
    }
  }
  return cplusplus;
}

// Drops parameter lists, template arguments, clone suffixes, trailing
// qualifiers and the return type from a demangled C++ name, keeping the
// parts that are names (base::ShortCxxName).
std::string SimplifyDemangled(std::string_view d) {
  std::string out(d.size(), '\0');
  out.resize(base::ShortCxxName(d, out.data(), out.size()));
  return out;
}

}  // namespace

std::string RemoveMatching(std::string name, char open, char close) {
  int nesting = 0;
  size_t first = 0;
  size_t current = 0;
  while (current < name.size()) {
    char c = name[current];
    if (c == open) {
      if (++nesting == 1) first = current;
    } else if (c == close) {
      --nesting;
      if (nesting < 0) return name;  // Mismatch: stop here, as pprof does.
      if (nesting == 0) {
        name.erase(first, current + 1 - first);
        current = first;
        continue;
      }
    }
    current++;
  }
  return name;
}

std::string DemangleSimplified(std::string_view mangled) {
  if (!mangled.starts_with("_Z")) return "";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(std::string(mangled).c_str(), nullptr, nullptr, &status), &std::free);
  if (status != 0 || demangled == nullptr) return "";
  return SimplifyDemangled(demangled.get());
}

std::string DisplayName(std::string_view name, std::string_view system_name) {
  // Demangled by the writer: pprof keeps it as it is.
  if (!name.empty() && name != system_name) return std::string(name);
  if (std::string d = DemangleSimplified(system_name); !d.empty()) return d;
  if (!LooksLikeDemangledCPlusPlus(system_name)) return std::string(system_name);
  return RemoveMatching(RemoveMatching(std::string(system_name), '(', ')'), '<', '>');
}

std::string SimplifyCPlusPlusName(std::string_view name) {
  if (!LooksLikeDemangledCPlusPlus(name)) return "";
  return SimplifyDemangled(name);
}

std::string_view SimplifyFunctionName(std::string_view name) {
  if (!name.empty() && name[0] == '.') name.remove_prefix(1);
  constexpr std::string_view kReserved[] = {"(anonymous namespace)", "operator()"};
  for (size_t i = 0; i < name.size(); i++) {
    bool reserved = false;
    for (std::string_view r : kReserved) {
      if (name.substr(i, r.size()) == r) {
        i += r.size() - 1;
        reserved = true;
        break;
      }
    }
    if (!reserved && name[i] == '(') return name.substr(0, i);
  }
  return name;
}

}  // namespace heapscope::analyze
