#include "analyze/folded.h"

#include <algorithm>
#include <span>
#include <unordered_map>

#include "analyze/node_table.h"
#include "analyze/sample_type.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

struct StackHash {
  size_t operator()(const std::vector<uint32_t>& frames) const {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t f : frames) h = (h ^ f) * 1099511628211ULL;
    return static_cast<size_t>(h);
  }
};

}  // namespace

format::Result<CollapsedStacks> CollapseStacks(const format::Profile& profile,
                                               std::string_view sample_type) {
  format::Result<size_t> index = SelectSampleType(profile, sample_type);
  if (!index.ok()) return format::Error{index.error()};
  const size_t vi = *index;

  CollapsedStacks out;
  out.sample_type = profile.String(profile.sample_types[vi].type);
  out.unit = profile.String(profile.sample_types[vi].unit);
  const NodeTable nodes = NodeTable::Build(profile);
  if (!nodes.prune_warning().empty()) out.warnings.push_back(nodes.prune_warning());

  // Node ids of the stack, root first; one extra id stands for "no stack".
  const NodeId no_stack = static_cast<NodeId>(nodes.size());
  std::unordered_map<std::vector<uint32_t>, int64_t, StackHash> sums;
  std::vector<uint32_t> key;
  const format::SampleTable& samples = profile.samples;
  for (size_t i = 0; i < samples.size(); i++) {
    const int64_t v = samples.Values(i)[vi];
    if (v == 0) continue;
    out.total += Abs(v);
    std::span<const uint32_t> stack = samples.Locations(i);
    stack = stack.subspan(nodes.PrunedPrefix(stack));
    key.clear();
    for (size_t l = stack.size(); l-- > 0;) {
      std::span<const NodeId> chain = nodes.NodesOf(stack[l]);
      for (size_t k = chain.size(); k-- > 0;) key.push_back(chain[k]);
    }
    if (key.empty()) key.push_back(no_stack);
    sums[key] += v;
  }

  // Keep only the names used, numbered in name order so that comparing
  // indices compares names.
  std::vector<uint8_t> used(nodes.size() + 1, 0);
  for (const auto& [frames, v] : sums) {
    if (v == 0) continue;
    for (uint32_t f : frames) used[f] = 1;
  }
  auto name_of = [&](NodeId n) { return n == no_stack ? kNoStackName : nodes.Name(n); };
  std::vector<NodeId> order;
  for (NodeId n = 0; n <= no_stack; n++) {
    if (used[n]) order.push_back(n);
  }
  std::sort(order.begin(), order.end(),
            [&](NodeId a, NodeId b) { return name_of(a) < name_of(b); });
  std::vector<uint32_t> rank(nodes.size() + 1, 0);
  out.names.reserve(order.size());
  for (size_t r = 0; r < order.size(); r++) {
    rank[order[r]] = static_cast<uint32_t>(r);
    out.names.emplace_back(name_of(order[r]));
  }
  out.stacks.reserve(sums.size());
  for (auto& [frames, v] : sums) {
    if (v == 0) continue;
    CollapsedStack s;
    s.value = v;
    s.frames.reserve(frames.size());
    for (uint32_t f : frames) s.frames.push_back(rank[f]);
    out.stacks.push_back(std::move(s));
  }
  std::sort(out.stacks.begin(), out.stacks.end(),
            [](const CollapsedStack& a, const CollapsedStack& b) { return a.frames < b.frames; });
  return out;
}

std::string FormatFolded(const CollapsedStacks& stacks) {
  std::string out;
  for (const CollapsedStack& s : stacks.stacks) {
    for (size_t i = 0; i < s.frames.size(); i++) {
      if (i > 0) out += ';';
      // ';' separates frames and a newline ends the line: neither may
      // appear inside a name.
      for (char c : stacks.names[s.frames[i]]) {
        out += c == ';' ? ':' : (c == '\n' || c == '\r') ? ' ' : c;
      }
    }
    out += ' ';
    out += std::to_string(s.value);
    out += '\n';
  }
  return out;
}

MergedStacks MergeStacks(const CollapsedStacks* base, const CollapsedStacks& next) {
  static const CollapsedStacks kEmpty;
  const CollapsedStacks& b = base != nullptr ? *base : kEmpty;
  MergedStacks m;
  // Both name tables are sorted: merge them, and the maps keep the order.
  m.base_ids.resize(b.names.size());
  m.next_ids.resize(next.names.size());
  size_t i = 0, j = 0;
  while (i < b.names.size() || j < next.names.size()) {
    const uint32_t id = static_cast<uint32_t>(m.names.size());
    if (j == next.names.size() || (i < b.names.size() && b.names[i] < next.names[j])) {
      m.base_ids[i] = id;
      m.names.push_back(b.names[i++]);
    } else if (i == b.names.size() || next.names[j] < b.names[i]) {
      m.next_ids[j] = id;
      m.names.push_back(next.names[j++]);
    } else {
      m.base_ids[i++] = id;
      m.next_ids[j] = id;
      m.names.push_back(next.names[j++]);
    }
  }
  // The stacks of each side are sorted too, and stay so once renumbered.
  auto mapped = [](const CollapsedStack& s, const std::vector<uint32_t>& ids) {
    std::vector<uint32_t> frames(s.frames.size());
    for (size_t k = 0; k < frames.size(); k++) frames[k] = ids[s.frames[k]];
    return frames;
  };
  m.stacks.reserve(std::max(b.stacks.size(), next.stacks.size()));
  i = 0;
  j = 0;
  std::vector<uint32_t> bf, nf;
  if (i < b.stacks.size()) bf = mapped(b.stacks[i], m.base_ids);
  if (j < next.stacks.size()) nf = mapped(next.stacks[j], m.next_ids);
  while (i < b.stacks.size() || j < next.stacks.size()) {
    MergedStack s;
    const bool take_base = i < b.stacks.size() && (j == next.stacks.size() || bf <= nf);
    const bool take_next = j < next.stacks.size() && (i == b.stacks.size() || nf <= bf);
    if (take_base) {
      s.frames = std::move(bf);
      s.base = b.stacks[i].value;
      if (++i < b.stacks.size()) bf = mapped(b.stacks[i], m.base_ids);
    }
    if (take_next) {
      s.frames = std::move(nf);
      s.next = next.stacks[j].value;
      if (++j < next.stacks.size()) nf = mapped(next.stacks[j], m.next_ids);
    }
    m.stacks.push_back(std::move(s));
  }
  return m;
}

FunctionValues ComputeFunctionValues(const CollapsedStacks& stacks) {
  FunctionValues fv;
  fv.flat.assign(stacks.names.size(), 0);
  fv.cum.assign(stacks.names.size(), 0);
  std::vector<size_t> seen(stacks.names.size(), SIZE_MAX);
  for (size_t i = 0; i < stacks.stacks.size(); i++) {
    const CollapsedStack& s = stacks.stacks[i];
    fv.flat[s.frames.back()] += s.value;
    for (uint32_t f : s.frames) {
      if (seen[f] != i) {
        seen[f] = i;
        fv.cum[f] += s.value;
      }
    }
  }
  return fv;
}

}  // namespace heapscope::analyze
