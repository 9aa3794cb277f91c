#include "analyze/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <span>

namespace heapscope::analyze {
namespace {

struct Unit {
  const char* name;
  std::initializer_list<const char*> aliases;
  double factor;
};

struct UnitType {
  std::span<const Unit> units;
  Unit default_unit;
};

const Unit kMemoryUnits[] = {
    {"B", {"b", "byte"}, 1},
    {"kB", {"kb", "kbyte", "kilobyte"}, double(1 << 10)},
    {"MB", {"mb", "mbyte", "megabyte"}, double(1 << 20)},
    {"GB", {"gb", "gbyte", "gigabyte"}, double(uint64_t{1} << 30)},
    {"TB", {"tb", "tbyte", "terabyte"}, double(uint64_t{1} << 40)},
    {"PB", {"pb", "pbyte", "petabyte"}, double(uint64_t{1} << 50)},
};
const Unit kTimeUnits[] = {
    {"ns", {"ns", "nanosecond"}, 1},    {"us", {"μs", "us", "microsecond"}, 1e3},
    {"ms", {"ms", "millisecond"}, 1e6}, {"s", {"s", "sec", "second"}, 1e9},
    {"hrs", {"hour", "hr"}, 3600e9},
};
const UnitType kMemory{kMemoryUnits, {"B", {}, 1}};
const UnitType kTime{kTimeUnits, {"s", {}, 1e9}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// pprof's sniffUnit: case-insensitive, a trailing plural "s" ignored.
const Unit* Sniff(const UnitType& type, std::string_view unit) {
  std::string u = Lower(unit);
  if (u.size() > 2 && u.back() == 's') u.pop_back();
  for (const Unit& candidate : type.units) {
    for (const char* alias : candidate.aliases) {
      if (u == alias) return &candidate;
    }
  }
  return nullptr;
}

bool Convert(const UnitType& type, int64_t value, std::string_view from, std::string_view to,
             Scaled* out) {
  const Unit* from_unit = Sniff(type, from);
  if (from_unit == nullptr) return false;
  double v = static_cast<double>(value) * from_unit->factor;
  if (to == "minimum" || to == "auto") {
    double f = 0;
    const char* name = nullptr;
    for (const Unit& u : type.units) {
      if (u.factor >= f && v / u.factor >= 1.0) {
        f = u.factor;
        name = u.name;
      }
    }
    if (name != nullptr) {
      *out = {v / f, name};
    } else {
      *out = {v / type.default_unit.factor, type.default_unit.name};
    }
    return true;
  }
  const Unit* to_unit = Sniff(type, to);
  if (to_unit == nullptr) to_unit = &type.default_unit;
  *out = {v / to_unit->factor, to_unit->name};
  return true;
}

}  // namespace

Scaled Scale(int64_t value, std::string_view from_unit, std::string_view to_unit) {
  if (value < 0 && -value > 0) {
    Scaled s = Scale(-value, from_unit, to_unit);
    s.value = -s.value;
    return s;
  }
  Scaled out;
  if (Convert(kMemory, value, from_unit, to_unit, &out)) return out;
  if (Convert(kTime, value, from_unit, to_unit, &out)) return out;
  if (to_unit == "count" || to_unit == "sample" || to_unit == "unit" || to_unit == "minimum" ||
      to_unit == "auto") {
    return {static_cast<double>(value), ""};
  }
  return {static_cast<double>(value), std::string(to_unit)};
}

std::string ScaledLabel(int64_t value, std::string_view from_unit, std::string_view to_unit) {
  Scaled s = Scale(value, from_unit, to_unit);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f", s.value);
  std::string_view text(buf);
  if (text.size() >= 3 && text.substr(text.size() - 3) == ".00") text.remove_suffix(3);
  if (text == "0" || text == "-0") return "0";
  return std::string(text) + s.unit;
}

std::string Label(int64_t value, std::string_view unit) { return ScaledLabel(value, unit, "auto"); }

std::string Percentage(int64_t value, int64_t total) {
  double ratio = 0;
  if (total != 0) {
    ratio = std::fabs(static_cast<double>(value) / static_cast<double>(total)) * 100;
  }
  char buf[64];
  if (ratio >= 99.95 && ratio <= 100.05) return "  100%";
  if (ratio >= 1.0) {
    std::snprintf(buf, sizeof(buf), "%5.2f%%", ratio);
  } else {
    std::snprintf(buf, sizeof(buf), "%5.2g%%", ratio);
  }
  return buf;
}

std::string SelectOutputUnit(int64_t min_nonzero_value, int64_t total,
                             std::string_view sample_unit) {
  int64_t min_value = min_nonzero_value;
  int64_t max_value = total;
  if (min_value == 0) min_value = max_value;
  std::string min_unit = Scale(min_value, sample_unit, "minimum").unit;
  std::string max_unit = Scale(max_value, sample_unit, "minimum").unit;
  std::string unit = min_unit;
  // Scale the minimum up by 100 to use larger units when the range is wide:
  // pprof lets the smallest value print as 0.01 of the unit.
  if (min_unit != max_unit &&
      static_cast<double>(min_value) * 100 < static_cast<double>(max_value)) {
    unit = Scale(100 * min_value, sample_unit, "minimum").unit;
  }
  return unit.empty() ? std::string(sample_unit) : unit;
}

std::string Grouped(int64_t value) {
  std::string digits =
      std::to_string(value < 0 ? -static_cast<uint64_t>(value) : static_cast<uint64_t>(value));
  std::string out = value < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); i++) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace heapscope::analyze
