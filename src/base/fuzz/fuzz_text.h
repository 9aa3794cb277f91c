// Shared by the parser fuzz targets: the fuzzer's bytes as a C string, and
// an independent reading of the number grammar the parsers accept
// (digits, optionally '.' and more digits, at least one digit, then a unit)
// to check their answers against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace heapscope::base::fuzz {

// Inputs longer than this are cut: no parser input is anywhere near it.
constexpr size_t kMaxText = 256;

// The bytes up to the first NUL (or kMaxText), NUL-terminated.
struct Text {
  char s[kMaxText + 1];
  size_t n;
  Text(const uint8_t* data, size_t len) {
    n = 0;
    while (n < len && n < kMaxText && data[n] != 0) {
      s[n] = static_cast<char>(data[n]);
      n++;
    }
    s[n] = '\0';
  }
};

[[noreturn]] inline void Fail(const char* what, const char* text) {
  std::fprintf(stderr, "parser invariant broken: %s; input \"%s\"\n", what, text);
  std::abort();
}

inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool EqualNoCase(const char* a, const char* b) {
  for (; *a != '\0' && *b != '\0'; a++, b++) {
    if (Lower(*a) != Lower(*b)) return false;
  }
  return *a == *b;
}

// "123.45unit": where the unit starts, whether the number part is
// well-formed, its integer part (saturated at 2^64, with `whole_fits`),
// whether any of the first 12 fractional digits is non-zero (the parsers
// read 12, well past a nanosecond or a byte), and whether there is a '.'.
struct Number {
  const char* unit = nullptr;
  bool ok = false;
  unsigned __int128 whole = 0;
  bool whole_fits = true;
  bool frac_nonzero = false;
  bool has_dot = false;
};

inline Number SplitNumber(const char* s) {
  Number r;
  const char* p = s;
  bool any = false;
  for (; *p >= '0' && *p <= '9'; p++) {
    any = true;
    if (r.whole_fits) {
      r.whole = r.whole * 10 + static_cast<unsigned>(*p - '0');
      if (r.whole > UINT64_MAX) r.whole_fits = false;
    }
  }
  if (*p == '.') {
    r.has_dot = true;
    p++;
    for (int i = 0; *p >= '0' && *p <= '9'; p++, i++) {
      any = true;
      if (i < 12 && *p != '0') r.frac_nonzero = true;
    }
  }
  r.unit = p;
  r.ok = any;
  return r;
}

// The multiplier of a unit from a table of {name, multiplier}, 0 if none.
struct Unit {
  const char* name;
  uint64_t mult;
};

template <size_t N>
uint64_t UnitMultiplier(const char* unit, const Unit (&table)[N]) {
  for (const Unit& u : table) {
    if (EqualNoCase(unit, u.name)) return u.mult;
  }
  return 0;
}

// The number part of s as a long double (strtold stops at the unit).
inline long double NumberValue(const char* s) { return std::strtold(s, nullptr); }

// Checks one answer of a unit parser (durations and sizes share the
// grammar) against the independent reading above: what it accepts is in the
// grammar; what is in the grammar and fits in 64 bits it accepts; an
// integer comes out as exactly whole * unit, a fraction within rounding of
// the decimal value.
template <size_t N>
void CheckUnitParser(const Text& t, bool accepted, uint64_t value, const Unit (&table)[N],
                     bool fraction_of_base_unit_ok) {
  Number num = SplitNumber(t.s);
  uint64_t mult = num.ok ? UnitMultiplier(num.unit, table) : 0;
  bool grammar = num.ok && mult != 0 && num.whole_fits;
  if (accepted && !num.whole_fits) Fail("accepted an integer part beyond 2^64", t.s);
  if (accepted && !grammar) Fail("accepted text outside the grammar", t.s);
  if (!grammar) return;
  if (!fraction_of_base_unit_ok && mult == 1 && num.frac_nonzero) {
    if (accepted) Fail("accepted a fraction of the base unit", t.s);
    return;
  }
  unsigned __int128 lower = num.whole * mult;
  if (!accepted) {
    // Whatever the fraction, the value is at most (whole + 1) * unit.
    if ((num.whole + 1) * mult <= UINT64_MAX) Fail("rejected a valid value", t.s);
    if (!num.frac_nonzero && lower <= UINT64_MAX) Fail("rejected a whole value that fits", t.s);
    return;
  }
  if (!num.frac_nonzero) {
    if (value != lower) Fail("a whole value is not whole * unit", t.s);
    return;
  }
  if (value < lower || value > lower + mult) Fail("a fraction outside [whole, whole + 1] units", t.s);
  long double want = NumberValue(t.s) * static_cast<long double>(mult);
  long double got = static_cast<long double>(value);
  long double diff = got > want ? got - want : want - got;
  // Rounding to the base unit (0.5), the fraction read to 12 digits, and
  // long double's 64-bit mantissa near 2^64.
  long double tol = 1.0L + static_cast<long double>(mult) * 1e-12L + want * 1e-18L;
  if (diff > tol) Fail("a fractional value off by more than rounding", t.s);
}

}  // namespace heapscope::base::fuzz
