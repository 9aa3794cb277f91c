// libFuzzer target for ParseSize (HEAPSCOPE_RATE, HEAPSCOPE_MAX_*, `heapscope
// leaks --limit`): no crash or sanitizer report on any bytes, and every
// answer agrees with an independent reading of the grammar (fuzz_text.h):
// binary units, no fractions of a byte. Accepted values round-trip through
// "<N>" and "<N>B" and parse the same in upper case.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "base/fuzz/fuzz_text.h"
#include "base/parse.h"

using namespace heapscope::base;
using namespace heapscope::base::fuzz;

namespace {

const Unit kUnits[] = {{"", 1},           {"b", 1},           {"k", 1ULL << 10},
                       {"kb", 1ULL << 10}, {"kib", 1ULL << 10}, {"m", 1ULL << 20},
                       {"mb", 1ULL << 20}, {"mib", 1ULL << 20}, {"g", 1ULL << 30},
                       {"gb", 1ULL << 30}, {"gib", 1ULL << 30}, {"t", 1ULL << 40},
                       {"tb", 1ULL << 40}, {"tib", 1ULL << 40}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  Text t(data, len);
  const uint64_t kUntouched = 0x5a5a5a5a5a5a5a5aULL;
  uint64_t bytes = kUntouched;
  bool ok = ParseSize(t.s, &bytes);
  if (!ok && bytes != kUntouched) Fail("wrote the output on failure", t.s);
  CheckUnitParser(t, ok, bytes, kUnits, /*fraction_of_base_unit_ok=*/false);

  uint64_t again = kUntouched;
  if (ParseSize(t.s, &again) != ok || (ok && again != bytes)) Fail("not deterministic", t.s);
  if (!ok) return 0;

  char buf[32];
  uint64_t round = 0;
  std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(bytes));
  if (!ParseSize(buf, &round) || round != bytes) Fail("\"<N>\" does not round-trip", t.s);
  std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(bytes));
  round = 0;
  if (!ParseSize(buf, &round) || round != bytes) Fail("\"<N>B\" does not round-trip", t.s);

  Text upper(data, len);
  for (size_t i = 0; i < upper.n; i++) {
    if (upper.s[i] >= 'a' && upper.s[i] <= 'z') upper.s[i] = static_cast<char>(upper.s[i] - 32);
  }
  uint64_t up = 0;
  if (!ParseSize(upper.s, &up) || up != bytes) Fail("units are not case-insensitive", t.s);
  return 0;
}
