// NOT A LEAK (decoy c): a lookup table built once at start-up.
//
// Maps client IPv4 addresses to a region, like a GeoIP database. About 8 MB,
// allocated in one go before the first request and kept, unchanged, for the
// whole run: large, but flat.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_GEO_TABLE_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_GEO_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace demo {

class GeoTable {
 public:
  struct Region {
    uint16_t country = 0;
    uint16_t zone = 0;
    uint32_t network = 0;
  };

  // Builds a deterministic table of `range_count` address ranges.
  static GeoTable Build(size_t range_count);

  // Region of a dotted-quad address; a zero Region for unparsable input.
  Region Lookup(std::string_view ipv4) const;

 private:
  struct Range {
    uint32_t first = 0;
    uint32_t last = 0;
    Region region;
  };

  std::vector<Range> ranges_;  // Sorted, disjoint.
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_GEO_TABLE_H_
