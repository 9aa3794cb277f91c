// libFuzzer target for ShortCxxName (base/cxx_names.h), which the runtime
// runs inside the profiled process on every demangled symbol it names: no
// crash or sanitizer report on any bytes and any room, never a byte
// written past the room it is given, and the short form is always the
// input's characters in order (a subsequence: nothing is made up), the
// same on every call, and no longer than the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "base/cxx_names.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view in) {
  std::fprintf(stderr, "ShortCxxName invariant broken: %s; input \"%.*s\"\n", what,
               static_cast<int>(in.size()), in.data());
  std::abort();
}

bool IsSubsequence(std::string_view small, std::string_view big) {
  size_t j = 0;
  for (char c : small) {
    while (j < big.size() && big[j] != c) j++;
    if (j == big.size()) return false;
    j++;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  if (len == 0) return 0;
  // The first byte picks the room: small rooms cut the name.
  const size_t cap = data[0] % 64 == 0 ? len : data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data + 1), len - 1);
  // Exactly `cap` bytes on the heap, so AddressSanitizer sees any write past.
  std::unique_ptr<char[]> out(new char[cap]);
  size_t n = heapscope::base::ShortCxxName(in, out.get(), cap);
  if (n > cap) Fail("longer than its room", in);
  if (n > in.size()) Fail("longer than the input", in);
  std::string_view got(out.get(), n);
  if (cap >= in.size() && !IsSubsequence(got, in)) Fail("not the input's characters", in);
  std::unique_ptr<char[]> again(new char[cap]);
  size_t m = heapscope::base::ShortCxxName(in, again.get(), cap);
  if (m != n || std::string_view(again.get(), m) != got) Fail("not deterministic", in);
  return 0;
}
