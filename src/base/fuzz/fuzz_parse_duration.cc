// libFuzzer target for ParseDuration (HEAPSCOPE_INTERVAL, `heapscope run
// --interval`): no crash or sanitizer report on any bytes, and every answer
// agrees with an independent reading of the grammar (fuzz_text.h). Accepted
// values also round-trip through "<N>ns" and parse the same in upper case.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "base/fuzz/fuzz_text.h"
#include "base/parse.h"

using namespace heapscope::base;
using namespace heapscope::base::fuzz;

namespace {

constexpr uint64_t kSecond = 1000000000ULL;
const Unit kUnits[] = {{"", kSecond},          {"s", kSecond},
                       {"ns", 1},              {"us", 1000},
                       {"ms", 1000000},        {"m", 60 * kSecond},
                       {"min", 60 * kSecond},  {"h", 3600 * kSecond}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  Text t(data, len);
  const uint64_t kUntouched = 0x5a5a5a5a5a5a5a5aULL;
  uint64_t ns = kUntouched;
  bool ok = ParseDuration(t.s, &ns);
  if (!ok && ns != kUntouched) Fail("wrote the output on failure", t.s);
  CheckUnitParser(t, ok, ns, kUnits, /*fraction_of_base_unit_ok=*/true);

  uint64_t again = kUntouched;
  if (ParseDuration(t.s, &again) != ok || (ok && again != ns)) Fail("not deterministic", t.s);
  if (!ok) return 0;

  char buf[32];
  std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  uint64_t round = 0;
  if (!ParseDuration(buf, &round) || round != ns) Fail("\"<N>ns\" does not round-trip", t.s);

  Text upper(data, len);
  for (size_t i = 0; i < upper.n; i++) {
    if (upper.s[i] >= 'a' && upper.s[i] <= 'z') upper.s[i] = static_cast<char>(upper.s[i] - 32);
  }
  uint64_t up = 0;
  if (!ParseDuration(upper.s, &up) || up != ns) Fail("units are not case-insensitive", t.s);
  return 0;
}
