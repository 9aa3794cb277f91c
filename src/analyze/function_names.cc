#include "analyze/function_names.h"

#include <cxxabi.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <vector>

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

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Length of the balanced group that starts at s[i] == open, or the rest
// of the string if it never closes.
size_t GroupLength(std::string_view s, size_t i, char open, char close) {
  int depth = 0;
  for (size_t j = i; j < s.size(); j++) {
    if (s[j] == open) depth++;
    if (s[j] == close && --depth == 0) return j - i + 1;
  }
  return s.size() - i;
}

// Symbolic operator names, longest first so "<<=" wins over "<<" and "<".
constexpr std::array<std::string_view, 39> kOperatorTokens = {
    "<=>", "<<=", ">>=", "->*", "()", "[]", "<<", ">>", "<=", ">=", "->", "==", "!=",
    "&&",  "||",  "++",  "--",  "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<",
    ">",   "=",   "+",   "-",   "*",  "/",  "%",  "&",  "|",  "^",  "~",  "!",  ","};

// Names the demangler gives to compiler-made symbols; pprof prints them in
// full.
constexpr std::string_view kSpecialPrefixes[] = {"non-virtual thunk to ",
                                                 "virtual thunk to ",
                                                 "covariant return thunk to ",
                                                 "guard variable for ",
                                                 "vtable for ",
                                                 "VTT for ",
                                                 "typeinfo for ",
                                                 "typeinfo name for ",
                                                 "construction vtable for ",
                                                 "TLS init function for ",
                                                 "TLS wrapper function for ",
                                                 "transaction clone for ",
                                                 "reference temporary #"};

// Drops parameter lists, template arguments, clone suffixes, trailing
// qualifiers and the return type from a demangled C++ name, keeping the
// parts that are names: "(anonymous namespace)", "{lambda(int)#1}",
// "operator()", "operator<<", "operator new[]", "operator int".
std::string SimplifyDemangled(std::string_view d) {
  for (std::string_view prefix : kSpecialPrefixes) {
    if (d.starts_with(prefix)) return std::string(d);
  }
  if (size_t clone = d.find(" [clone "); clone != std::string_view::npos) d = d.substr(0, clone);

  std::string out;
  out.reserve(d.size());
  // Where the name may start: after a space outside every group (what
  // precedes it is a return type).
  std::vector<size_t> name_starts = {0};
  size_t i = 0;
  while (i < d.size()) {
    char c = d[i];
    if (c == '(' && d.substr(i).starts_with("(anonymous namespace)")) {
      out += "(anonymous namespace)";
      i += 21;
    } else if (c == '{') {
      size_t n = GroupLength(d, i, '{', '}');
      out.append(d.substr(i, n));
      i += n;
    } else if (d.substr(i).starts_with("operator") && (i == 0 || !IsIdentChar(d[i - 1])) &&
               (i + 8 >= d.size() || !IsIdentChar(d[i + 8]))) {
      out += "operator";
      i += 8;
      if (i < d.size() && d[i] == ' ') {
        // operator new, operator delete[], operator int (a conversion).
        out += ' ';
        i++;
        while (i < d.size() && (IsIdentChar(d[i]) || d[i] == ':')) out += d[i++];
        if (d.substr(i).starts_with("[]")) {
          out += "[]";
          i += 2;
        }
      } else {
        for (std::string_view token : kOperatorTokens) {
          if (d.substr(i).starts_with(token)) {
            out.append(token);
            i += token.size();
            break;
          }
        }
      }
    } else if (c == '(') {
      i += GroupLength(d, i, '(', ')');
    } else if (c == '<') {
      i += GroupLength(d, i, '<', '>');
    } else {
      out += c;
      i++;
      if (c == ' ') name_starts.push_back(out.size());
    }
  }
  // Qualifiers of the function itself: "() const", "() &&", "() noexcept".
  for (bool trimmed = true; trimmed;) {
    trimmed = false;
    for (std::string_view q : {" const", " volatile", " noexcept", " &&", " &", " "}) {
      if (std::string_view(out).ends_with(q)) {
        out.resize(out.size() - q.size());
        trimmed = true;
      }
    }
  }
  size_t start = 0;
  for (size_t s : name_starts) {
    if (s < out.size()) start = s;
  }
  return out.substr(start);
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
