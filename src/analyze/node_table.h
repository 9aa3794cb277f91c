// The nodes of a report: what pprof calls a node at "functions"
// granularity. Every function name, as pprof displays it (function_names.h),
// is one node (functions that share a name merge, as in pprof, e.g. C++
// overloads), and frames without a name still get one:
// "libfoo.so+0x1a2b" (module base name and file offset) or "0x7f12..."
// (bare address), so unsymbolized memory is never dropped from a report.
//
// Building the table also applies the profile's drop_frames / keep_frames
// the way pprof's Profile.Prune does, so reports hide the same frames
// `go tool pprof` hides (e.g. allocator internals a runtime asks to drop).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/profile.h"

namespace heapscope::analyze {

using NodeId = uint32_t;

class NodeTable {
 public:
  NodeTable() = default;
  // Move-only: names point into owned_names_, whose elements never move.
  NodeTable(NodeTable&&) = default;
  NodeTable& operator=(NodeTable&&) = default;
  NodeTable(const NodeTable&) = delete;
  NodeTable& operator=(const NodeTable&) = delete;

  // The profile must outlive the table (names point into its strings).
  static NodeTable Build(const format::Profile& profile);

  size_t size() const { return names_.size(); }
  std::string_view Name(NodeId node) const { return names_[node]; }

  // The nodes of location `location` (an index into Profile::locations):
  // its inline chain, innermost frame first.
  std::span<const NodeId> NodesOf(uint32_t location) const {
    return {nodes_.data() + offsets_[location], nodes_.data() + offsets_[location + 1]};
  }

  // How many locations at the leaf end of a sample's stack (leaf first)
  // drop_frames removes. Zero when the profile sets no drop_frames.
  size_t PrunedPrefix(std::span<const uint32_t> locations) const;
  bool prunes() const { return !prune_.empty(); }

  // Why drop_frames was not applied (it is not a valid regular
  // expression), or "".
  const std::string& prune_warning() const { return prune_warning_; }

 private:
  enum class Prune : uint8_t { kNone, kBeneath, kAll };

  NodeId Intern(std::string_view name);

  std::vector<std::string_view> names_;
  std::deque<std::string> owned_names_;  // Names not in the profile's strings.
  std::vector<uint32_t> offsets_;        // Per location, into nodes_; one more entry.
  std::vector<NodeId> nodes_;
  std::vector<Prune> prune_;  // Per location; empty when nothing is pruned.
  std::string prune_warning_;
};

// The name of a frame that has no function name: "module+0xoffset" when
// the location has a mapping with a file name, else its address in hex.
std::string UnsymbolizedName(const format::Profile& profile, const format::Location& loc);

}  // namespace heapscope::analyze
