// libFuzzer target for ParseSignal (HEAPSCOPE_DUMP_SIGNAL,
// HEAPSCOPE_HTTP_SIGNAL, `heapscope dump`): no crash or sanitizer report on
// any bytes; an accepted signal is 0 (only for "0"/"off") or a real signal
// number; a number is accepted exactly when it is "0" or 1..64 and means
// itself; a name means the same with and without "SIG"; and every accepted
// signal is accepted again as its number.
#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "base/fuzz/fuzz_text.h"
#include "base/parse.h"

using namespace heapscope::base;
using namespace heapscope::base::fuzz;

namespace {

bool AllDigits(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  Text t(data, len);
  const int kUntouched = -12345;
  int sig = kUntouched;
  bool ok = ParseSignal(t.s, &sig);
  if (!ok && sig != kUntouched) Fail("wrote the output on failure", t.s);
  int again = kUntouched;
  if (ParseSignal(t.s, &again) != ok || (ok && again != sig)) Fail("not deterministic", t.s);

  if (AllDigits(t.s)) {
    Number num = SplitNumber(t.s);
    // "0" means none; other numbers must be signals 1..64 ("00" is neither).
    bool valid = std::strcmp(t.s, "0") == 0 || (num.whole_fits && num.whole >= 1 && num.whole <= 64);
    if (ok != valid) Fail("a number is not accepted exactly when it is \"0\" or 1..64", t.s);
    if (ok && static_cast<unsigned __int128>(sig) != num.whole) Fail("a number is not itself", t.s);
    return 0;
  }
  if (ok) {
    if (sig == 0 && std::strcmp(t.s, "off") != 0) Fail("0 from something but \"off\"", t.s);
    if (sig != 0 && (sig < 1 || sig > SIGRTMAX)) Fail("not a signal number", t.s);
  }
  // "SIG" + name means the name (except "off", which is not a signal name).
  if (std::strcmp(t.s, "off") != 0 && std::strncmp(t.s, "SIG", 3) != 0 && t.n + 3 <= kMaxText) {
    char prefixed[kMaxText + 4];
    std::snprintf(prefixed, sizeof prefixed, "SIG%s", t.s);
    int with = kUntouched;
    bool ok_with = ParseSignal(prefixed, &with);
    if (ok_with != ok || (ok && with != sig)) Fail("\"SIG\" + name differs from name", t.s);
  }
  if (ok && sig != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%d", sig);
    int back = kUntouched;
    if (!ParseSignal(buf, &back) || back != sig) Fail("the signal's number is not accepted", t.s);
  }
  return 0;
}
