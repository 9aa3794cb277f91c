// Test helper: builds Profile models in memory, by name, for analyze tests.
#pragma once

#include <initializer_list>
#include <map>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze::testing {

class ProfileBuilder {
 public:
  // sample types as {type, unit} pairs.
  explicit ProfileBuilder(std::initializer_list<std::pair<std::string, std::string>> types) {
    p_.AddString("");
    for (const auto& [type, unit] : types) {
      p_.sample_types.push_back({Str(type), Str(unit)});
    }
    p_.samples.num_values = p_.sample_types.size();
  }

  format::StringIndex Str(const std::string& s) {
    auto it = strings_.find(s);
    if (it != strings_.end()) return it->second;
    format::StringIndex i = s.empty() ? 0 : p_.AddString(s);
    strings_.emplace(s, i);
    return i;
  }

  uint32_t Mapping(const std::string& file, uint64_t start, uint64_t limit, uint64_t offset) {
    format::Mapping m;
    m.id = p_.mappings.size() + 1;
    m.memory_start = start;
    m.memory_limit = limit;
    m.file_offset = offset;
    m.filename = Str(file);
    p_.mappings.push_back(m);
    return static_cast<uint32_t>(p_.mappings.size() - 1);
  }

  // A new Function record (even if the name repeats).
  uint32_t Function(const std::string& name) {
    format::Function f;
    f.id = p_.functions.size() + 1;
    f.name = Str(name);
    f.system_name = f.name;
    p_.functions.push_back(f);
    return static_cast<uint32_t>(p_.functions.size() - 1);
  }

  // A location whose inline chain is `functions`, innermost first; each
  // name maps to one Function record.
  uint32_t Loc(std::initializer_list<std::string> functions, uint32_t mapping = format::kNoIndex,
               uint64_t address = 0) {
    std::vector<uint32_t> ids;
    for (const std::string& name : functions) {
      auto it = function_by_name_.find(name);
      if (it == function_by_name_.end()) it = function_by_name_.emplace(name, Function(name)).first;
      ids.push_back(it->second);
    }
    return LocWithFunctions(ids, mapping, address);
  }

  uint32_t LocWithFunctions(const std::vector<uint32_t>& functions, uint32_t mapping,
                            uint64_t address) {
    format::Location loc;
    loc.id = p_.locations.size() + 1;
    loc.mapping = mapping;
    loc.address = address;
    loc.line_begin = static_cast<uint32_t>(p_.lines.size());
    for (uint32_t f : functions) p_.lines.push_back({f, 1, 0});
    loc.line_count = static_cast<uint32_t>(functions.size());
    p_.locations.push_back(loc);
    return static_cast<uint32_t>(p_.locations.size() - 1);
  }

  // A sample; `locations` leaf first.
  void Sample(std::initializer_list<uint32_t> locations, std::initializer_list<int64_t> values) {
    format::SampleTable& t = p_.samples;
    if (t.location_offsets.empty()) {
      t.location_offsets.push_back(0);
      t.label_offsets.push_back(0);
    }
    t.location_index.insert(t.location_index.end(), locations.begin(), locations.end());
    t.values.insert(t.values.end(), values.begin(), values.end());
    t.location_offsets.push_back(t.location_index.size());
    t.label_offsets.push_back(t.labels.size());
  }

  // A sample with numeric labels (key, value, unit).
  void Sample(std::initializer_list<uint32_t> locations, std::initializer_list<int64_t> values,
              std::initializer_list<std::tuple<std::string, int64_t, std::string>> labels) {
    Sample(locations, values);
    format::SampleTable& t = p_.samples;
    for (const auto& [key, num, unit] : labels) {
      format::Label l;
      l.key = Str(key);
      l.num = num;
      l.num_unit = Str(unit);
      t.labels.push_back(l);
    }
    t.label_offsets.back() = t.labels.size();
  }

  format::Profile& profile() { return p_; }
  format::Profile Build() { return std::move(p_); }

 private:
  format::Profile p_;
  std::map<std::string, format::StringIndex> strings_;
  std::map<std::string, uint32_t> function_by_name_;
};

}  // namespace heapscope::analyze::testing
