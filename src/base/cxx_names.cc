#include "base/cxx_names.h"

#include <array>

namespace heapscope::base {
namespace {

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

// A bounded string: appends past `cap` are dropped.
struct Out {
  char* buf;
  size_t cap;
  size_t size = 0;
  void Add(char c) {
    if (size < cap) buf[size] = c;
    size++;
  }
  void Add(std::string_view s) {
    for (char c : s) Add(c);
  }
  bool EndsWith(std::string_view s) const {
    if (s.size() > size || size > cap) return false;
    return std::string_view(buf + size - s.size(), s.size()) == s;
  }
};

}  // namespace

size_t ShortCxxName(std::string_view d, char* buf, size_t cap) {
  Out out{buf, cap};
  for (std::string_view prefix : kSpecialPrefixes) {
    if (d.starts_with(prefix)) {
      out.Add(d);
      return out.size < cap ? out.size : cap;
    }
  }
  if (size_t clone = d.find(" [clone "); clone != std::string_view::npos) d = d.substr(0, clone);

  // Where the name may start: after a space outside every group (what
  // precedes it is a return type). Only the last few matter: trimming the
  // qualifiers below removes at most a few spaces.
  constexpr size_t kStarts = 16;
  size_t starts[kStarts] = {0};
  size_t nstarts = 1;
  size_t i = 0;
  while (i < d.size()) {
    char c = d[i];
    if (c == '(' && d.substr(i).starts_with("(anonymous namespace)")) {
      out.Add("(anonymous namespace)");
      i += 21;
    } else if (c == '{') {
      size_t n = GroupLength(d, i, '{', '}');
      out.Add(d.substr(i, n));
      i += n;
    } else if (d.substr(i).starts_with("operator") && (i == 0 || !IsIdentChar(d[i - 1])) &&
               (i + 8 >= d.size() || !IsIdentChar(d[i + 8]))) {
      out.Add("operator");
      i += 8;
      if (i < d.size() && d[i] == ' ') {
        // operator new, operator delete[], operator int (a conversion).
        out.Add(' ');
        i++;
        while (i < d.size() && (IsIdentChar(d[i]) || d[i] == ':')) out.Add(d[i++]);
        if (d.substr(i).starts_with("[]")) {
          out.Add("[]");
          i += 2;
        }
      } else {
        for (std::string_view token : kOperatorTokens) {
          if (d.substr(i).starts_with(token)) {
            out.Add(token);
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
      out.Add(c);
      i++;
      if (c == ' ') starts[nstarts++ % kStarts] = out.size;
    }
  }
  if (out.size > cap) return cap;  // Cut: no room to trim or pick the start.
  // Qualifiers of the function itself: "() const", "() &&", "() noexcept".
  for (bool trimmed = true; trimmed;) {
    trimmed = false;
    for (std::string_view q : {" const", " volatile", " noexcept", " &&", " &", " "}) {
      if (out.EndsWith(q)) {
        out.size -= q.size();
        trimmed = true;
      }
    }
  }
  size_t start = 0;
  const size_t first = nstarts > kStarts ? nstarts - kStarts : 0;
  for (size_t k = first; k < nstarts; k++) {
    if (starts[k % kStarts] < out.size) start = starts[k % kStarts];
  }
  if (start > 0) {
    for (size_t k = start; k < out.size; k++) buf[k - start] = buf[k];
  }
  return out.size - start;
}

}  // namespace heapscope::base
