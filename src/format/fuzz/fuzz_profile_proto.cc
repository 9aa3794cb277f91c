// libFuzzer target: ReadProfile on arbitrary bytes (gzipped or not) must
// return a Profile or an Error, never crash, and a Profile it returns must
// hold only in-range references.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "format/profile_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace heapscope::format;
  Result<Profile> p =
      ReadProfile(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!p.ok()) return 0;
  for (size_t i = 0; i < p->samples.size(); i++) {
    for (uint32_t l : p->samples.Locations(i)) {
      if (l >= p->locations.size()) abort();
    }
  }
  for (const Location& loc : p->locations) {
    for (const Line& line : p->LinesOf(loc)) {
      if (line.function >= p->functions.size()) abort();
    }
  }
  return 0;
}
