#include "base/parse.h"

#include <signal.h>
#include <string.h>

#include <cstddef>

namespace heapscope::base {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool Equal(const char* a, const char* lit) {
  for (; *lit != '\0'; a++, lit++) {
    if (Lower(*a) != *lit) return false;
  }
  return *a == '\0';
}

// Parses digits with an optional fraction. Returns the position after it.
const char* ParseNumber(const char* p, uint64_t* whole, uint64_t* frac_num, uint64_t* frac_den,
                        bool* ok) {
  *whole = 0;
  *frac_num = 0;
  *frac_den = 1;
  *ok = false;
  bool any = false;
  while (*p >= '0' && *p <= '9') {
    uint64_t d = static_cast<uint64_t>(*p - '0');
    if (*whole > (UINT64_MAX - d) / 10) return p;
    *whole = *whole * 10 + d;
    any = true;
    p++;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      if (*frac_den < 1000000000000ULL) {
        *frac_num = *frac_num * 10 + static_cast<uint64_t>(*p - '0');
        *frac_den *= 10;
      }
      any = true;
      p++;
    }
  }
  *ok = any;
  return p;
}

bool Scale(uint64_t whole, uint64_t frac_num, uint64_t frac_den, uint64_t mult, uint64_t* out) {
  if (mult != 0 && whole > UINT64_MAX / mult) return false;
  uint64_t v = whole * mult;
  // frac_num < frac_den <= 1e12, mult <= 2^40 for sizes; use long double to avoid overflow.
  long double f = static_cast<long double>(frac_num) / static_cast<long double>(frac_den) *
                  static_cast<long double>(mult);
  uint64_t add = static_cast<uint64_t>(f + 0.5L);
  if (v > UINT64_MAX - add) return false;
  *out = v + add;
  return true;
}

}  // namespace

bool ParseUint(const char* text, uint64_t* value) {
  if (text == nullptr || *text == '\0') return false;
  uint64_t v = 0;
  for (const char* p = text; *p != '\0'; p++) {
    if (*p < '0' || *p > '9') return false;
    uint64_t d = static_cast<uint64_t>(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

bool ParseSignal(const char* v, int* sig) {
  if (v == nullptr || *v == '\0') return false;
  if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0) {
    *sig = 0;
    return true;
  }
  uint64_t n;
  if (ParseUint(v, &n)) {
    if (n == 0 || n > 64) return false;
    *sig = static_cast<int>(n);
    return true;
  }
  const char* s = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
  if (strcmp(s, "USR1") == 0) {
    *sig = SIGUSR1;
  } else if (strcmp(s, "USR2") == 0) {
    *sig = SIGUSR2;
  } else if (strcmp(s, "PROF") == 0) {
    *sig = SIGPROF;
  } else if (strncmp(s, "RTMIN+", 6) == 0 && ParseUint(s + 6, &n) &&
             n <= static_cast<uint64_t>(SIGRTMAX - SIGRTMIN)) {
    *sig = SIGRTMIN + static_cast<int>(n);
  } else {
    return false;
  }
  return true;
}

bool ParseDuration(const char* text, uint64_t* nanos) {
  if (text == nullptr) return false;
  uint64_t whole, fn, fd;
  bool ok;
  const char* unit = ParseNumber(text, &whole, &fn, &fd, &ok);
  if (!ok) return false;
  uint64_t mult;
  if (*unit == '\0' || Equal(unit, "s")) {
    mult = 1000000000ULL;
  } else if (Equal(unit, "ns")) {
    mult = 1;
  } else if (Equal(unit, "us")) {
    mult = 1000ULL;
  } else if (Equal(unit, "ms")) {
    mult = 1000000ULL;
  } else if (Equal(unit, "m") || Equal(unit, "min")) {
    mult = 60ULL * 1000000000ULL;
  } else if (Equal(unit, "h")) {
    mult = 3600ULL * 1000000000ULL;
  } else {
    return false;
  }
  return Scale(whole, fn, fd, mult, nanos);
}

bool ParseSize(const char* text, uint64_t* bytes) {
  if (text == nullptr) return false;
  uint64_t whole, fn, fd;
  bool ok;
  const char* unit = ParseNumber(text, &whole, &fn, &fd, &ok);
  if (!ok) return false;
  uint64_t mult;
  if (*unit == '\0' || Equal(unit, "b")) {
    mult = 1;
  } else if (Equal(unit, "k") || Equal(unit, "kb") || Equal(unit, "kib")) {
    mult = 1ULL << 10;
  } else if (Equal(unit, "m") || Equal(unit, "mb") || Equal(unit, "mib")) {
    mult = 1ULL << 20;
  } else if (Equal(unit, "g") || Equal(unit, "gb") || Equal(unit, "gib")) {
    mult = 1ULL << 30;
  } else if (Equal(unit, "t") || Equal(unit, "tb") || Equal(unit, "tib")) {
    mult = 1ULL << 40;
  } else {
    return false;
  }
  if (mult == 1 && fn != 0) return false;  // fractional bytes
  return Scale(whole, fn, fd, mult, bytes);
}

}  // namespace heapscope::base
