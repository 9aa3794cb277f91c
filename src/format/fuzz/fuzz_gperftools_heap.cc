// libFuzzer target: ReadGperftoolsHeap on arbitrary text must return a Profile or
// an Error, never crash, and every sample it returns must have four values
// and only in-range locations and mappings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "format/legacy_heap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace heapscope::format;
  Result<Profile> p =
      ReadGperftoolsHeap(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!p.ok()) return 0;
  if (p->samples.num_values != 4) abort();
  if (p->samples.values.size() != p->samples.size() * 4) abort();
  for (size_t i = 0; i < p->samples.size(); i++) {
    for (uint32_t l : p->samples.Locations(i)) {
      if (l >= p->locations.size()) abort();
    }
  }
  for (const Location& loc : p->locations) {
    if (loc.mapping != kNoIndex && loc.mapping >= p->mappings.size()) abort();
  }
  return 0;
}
