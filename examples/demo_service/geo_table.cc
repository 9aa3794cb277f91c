#include "geo_table.h"

#include <algorithm>
#include <charconv>

#include "random.h"

namespace demo {
namespace {

bool ParseIpv4(std::string_view text, uint32_t& address) {
  address = 0;
  for (int part = 0; part < 4; ++part) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || value > 255) return false;
    address = (address << 8) | value;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    if (part < 3) {
      if (text.empty() || text.front() != '.') return false;
      text.remove_prefix(1);
    }
  }
  return text.empty();
}

}  // namespace

GeoTable GeoTable::Build(size_t range_count) {
  GeoTable table;
  table.ranges_.resize(range_count);
  Random random(0x6E0);
  // Split the address space into `range_count` ranges of uneven width.
  const uint64_t average_width = (uint64_t{1} << 32) / range_count;
  uint64_t next_first = 0;
  for (size_t i = 0; i < range_count; ++i) {
    Range& range = table.ranges_[i];
    const uint64_t width = 1 + random.Below(2 * average_width - 1);
    const uint64_t last = i + 1 == range_count
                              ? 0xFFFFFFFFull
                              : std::min<uint64_t>(next_first + width - 1, 0xFFFFFFFEull);
    range.first = static_cast<uint32_t>(next_first);
    range.last = static_cast<uint32_t>(std::max(last, next_first));
    range.region.country = static_cast<uint16_t>(random.Below(250));
    range.region.zone = static_cast<uint16_t>(random.Below(4096));
    range.region.network = static_cast<uint32_t>(random.Next());
    next_first = std::min<uint64_t>(uint64_t{range.last} + 1, 0xFFFFFFFFull);
  }
  return table;
}

GeoTable::Region GeoTable::Lookup(std::string_view ipv4) const {
  uint32_t address = 0;
  if (!ParseIpv4(ipv4, address) || ranges_.empty()) return Region{};
  // First range whose end is >= address.
  const auto it =
      std::lower_bound(ranges_.begin(), ranges_.end(), address,
                       [](const Range& range, uint32_t value) { return range.last < value; });
  if (it == ranges_.end() || it->first > address) return Region{};
  return it->region;
}

}  // namespace demo
