#include "analyze/top.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "analyze/node_table.h"
#include "analyze/sample_type.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Calls fn(value, locations) for each sample with a non-zero value, with
// its stack (leaf first) after drop_frames pruning.
template <typename Fn>
void ForEachStack(const format::Profile& profile, const NodeTable& nodes, size_t value_index,
                  Fn&& fn) {
  const format::SampleTable& samples = profile.samples;
  const size_t num_samples = samples.size();
  const size_t stride = samples.num_values;
  const int64_t* values = samples.values.data();
  const uint64_t* offsets = samples.location_offsets.data();
  const uint32_t* locs = samples.location_index.data();
  for (size_t i = 0; i < num_samples; i++) {
    const int64_t v = values[i * stride + value_index];
    if (v == 0) continue;
    size_t begin = offsets[i];
    const size_t end = offsets[i + 1];
    if (nodes.prunes()) begin += nodes.PrunedPrefix({locs + begin, locs + end});
    fn(i, v, std::span<const uint32_t>(locs + begin, locs + end));
  }
}

// Weights of call edges into a set of target nodes, and whether each edge
// is inlined wherever it appears. The table is probed once per frame of a
// target, so it is a dense caller x target matrix when that fits in a few
// megabytes (the usual case: targets are the rows a report shows), else an
// open-addressing hash table.
class EdgeTable {
 public:
  struct Edge {
    int64_t weight = 0;
    uint32_t last_sample = UINT32_MAX;  // Counts an edge once per sample.
    bool present = false;
    bool inline_call = true;  // Inlined in every sample it appears in.
  };

  EdgeTable(const std::vector<uint8_t>& is_target, size_t num_nodes) : num_nodes_(num_nodes) {
    size_t targets = 0;
    target_slot_.assign(num_nodes, format::kNoIndex);
    for (NodeId n = 0; n < num_nodes; n++) {
      if (is_target[n]) target_slot_[n] = static_cast<uint32_t>(targets++);
    }
    if (targets * num_nodes <= kMaxDenseEdges) {
      dense_.resize(targets * num_nodes);
    } else {
      keys_.assign(1024, kEmpty);
      hashed_.resize(1024);
    }
  }

  Edge& Get(NodeId caller, NodeId target) {
    if (!keys_.empty()) return Hashed(uint64_t{caller} << 32 | target);
    Edge& e = dense_[size_t{target_slot_[target]} * num_nodes_ + caller];
    e.present = true;
    return e;
  }

  // fn(target, edge) for every edge seen.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (keys_.empty()) {
      for (NodeId n = 0; n < num_nodes_; n++) {
        if (target_slot_[n] == format::kNoIndex) continue;
        const Edge* row = dense_.data() + size_t{target_slot_[n]} * num_nodes_;
        for (size_t caller = 0; caller < num_nodes_; caller++) {
          if (row[caller].present) fn(n, row[caller]);
        }
      }
      return;
    }
    for (size_t i = 0; i < keys_.size(); i++) {
      if (keys_[i] != kEmpty) fn(static_cast<NodeId>(keys_[i] & 0xffffffff), hashed_[i]);
    }
  }

 private:
  static constexpr size_t kMaxDenseEdges = size_t{1} << 20;  // 16 MiB of Edges.
  // Node ids are below kNoIndex, so no edge has this key.
  static constexpr uint64_t kEmpty = UINT64_MAX;

  Edge& Hashed(uint64_t key) {
    if ((size_ + 1) * 2 > keys_.size()) Grow();
    size_t i = Slot(key);
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      hashed_[i].present = true;
      size_++;
    }
    return hashed_[i];
  }

  size_t Slot(uint64_t key) const {
    const size_t mask = keys_.size() - 1;
    size_t i = static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> 20) & mask;
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask;
    return i;
  }

  void Grow() {
    std::vector<uint64_t> old_keys(keys_.size() * 2, kEmpty);
    std::vector<Edge> old_edges(hashed_.size() * 2);
    old_keys.swap(keys_);
    old_edges.swap(hashed_);
    for (size_t i = 0; i < old_keys.size(); i++) {
      if (old_keys[i] == kEmpty) continue;
      size_t j = Slot(old_keys[i]);
      keys_[j] = old_keys[i];
      hashed_[j] = old_edges[i];
    }
  }

  size_t num_nodes_;
  std::vector<uint32_t> target_slot_;
  std::vector<Edge> dense_;
  std::vector<uint64_t> keys_;  // Empty when dense.
  std::vector<Edge> hashed_;
  size_t size_ = 0;
};

// pprof's inline marks for the nodes in `shown`: a node is "(inline)" when
// all its incoming call edges are inlined calls, "(partial-inline)" when
// some are. As in pprof, an edge is inlined only if it is in every sample
// it appears in, and edges lighter than 0.1% of the flat total (pprof's
// default edge fraction) do not count.
std::vector<std::string> InlineLabels(const format::Profile& profile, const NodeTable& nodes,
                                      size_t value_index, const std::vector<NodeId>& shown,
                                      int64_t flat_sum) {
  std::vector<std::string> labels(shown.size());
  // Without inline chains there are no inlined calls.
  if (profile.lines.size() <= profile.locations.size()) return labels;

  // Only nodes that some inline chain calls can get a label; only their
  // incoming edges need weighing.
  std::vector<uint8_t> is_shown(nodes.size(), 0);
  for (NodeId n : shown) is_shown[n] = 1;
  std::vector<uint8_t> is_target(nodes.size(), 0);
  bool any_target = false;
  for (uint32_t l = 0; l < profile.locations.size(); l++) {
    std::span<const NodeId> chain = nodes.NodesOf(l);
    for (size_t k = 0; k + 1 < chain.size(); k++) {
      if (is_shown[chain[k]] && chain[k] != chain[k + 1]) {
        is_target[chain[k]] = 1;
        any_target = true;
      }
    }
  }
  if (!any_target) return labels;

  EdgeTable edges(is_target, nodes.size());
  ForEachStack(profile, nodes, value_index,
               [&](size_t i, int64_t v, std::span<const uint32_t> stack) {
                 const uint32_t stamp = static_cast<uint32_t>(i);
                 NodeId parent = format::kNoIndex;
                 // From the root to the leaf, outermost inline frame first, as pprof
                 // walks a stack.
                 for (size_t j = stack.size(); j-- > 0;) {
                   std::span<const NodeId> chain = nodes.NodesOf(stack[j]);
                   for (size_t k = chain.size(); k-- > 0;) {
                     NodeId n = chain[k];
                     if (is_target[n] && parent != format::kNoIndex && n != parent) {
                       EdgeTable::Edge& e = edges.Get(parent, n);
                       if (e.last_sample != stamp) {
                         e.last_sample = stamp;
                         e.weight += v;
                       }
                       // The outermost frame of a location is called, not inlined.
                       if (k == chain.size() - 1) e.inline_call = false;
                     }
                     parent = n;
                   }
                 }
               });
  const int64_t cutoff = Abs(static_cast<int64_t>(static_cast<double>(flat_sum) * 0.001));
  std::vector<uint8_t> kinds(nodes.size(), 0);  // 1: an inline edge, 2: a call edge.
  edges.ForEach([&](NodeId target, const EdgeTable::Edge& e) {
    if (Abs(e.weight) < cutoff) return;
    kinds[target] |= e.inline_call ? 1 : 2;
  });
  for (size_t r = 0; r < shown.size(); r++) {
    uint8_t k = kinds[shown[r]];
    if ((k & 1) != 0) labels[r] = (k & 2) != 0 ? "(partial-inline)" : "(inline)";
  }
  return labels;
}

}  // namespace

format::Result<TopReport> ComputeTop(const format::Profile& profile, const TopOptions& options) {
  format::Result<size_t> index = SelectSampleType(profile, options.sample_type);
  if (!index.ok()) return format::Error{index.error()};
  const size_t vi = *index;

  TopReport report;
  report.sample_type = profile.String(profile.sample_types[vi].type);
  report.unit = profile.String(profile.sample_types[vi].unit);
  report.time_nanos = profile.time_nanos;
  report.duration_nanos = profile.duration_nanos;
  if (!profile.mappings.empty()) {
    report.file = BaseName(profile.String(profile.mappings[0].filename));
    report.build_id = profile.String(profile.mappings[0].build_id);
  }
  for (format::StringIndex c : profile.comments) {
    std::string_view text = profile.String(c);
    if (text.starts_with("heapscope:")) report.notes.emplace_back(text);
  }

  const NodeTable nodes = NodeTable::Build(profile);
  if (!nodes.prune_warning().empty()) report.warnings.push_back(nodes.prune_warning());

  // One pass over the samples with integer node ids. `seen` holds the last
  // sample that added to a node's cum, so recursion counts once per sample.
  const size_t num_nodes = nodes.size();
  std::vector<int64_t> flat(num_nodes, 0);
  std::vector<int64_t> cum(num_nodes, 0);
  std::vector<uint32_t> seen(num_nodes, UINT32_MAX);
  int64_t total = 0;
  int64_t flat_sum = 0;
  ForEachStack(profile, nodes, vi, [&](size_t i, int64_t v, std::span<const uint32_t> stack) {
    total += Abs(v);
    if (stack.empty()) return;
    flat_sum += v;
    flat[nodes.NodesOf(stack[0])[0]] += v;
    const uint32_t stamp = static_cast<uint32_t>(i);
    for (uint32_t loc : stack) {
      for (NodeId n : nodes.NodesOf(loc)) {
        if (seen[n] != stamp) {
          seen[n] = stamp;
          cum[n] += v;
        }
      }
    }
  });
  report.total = total;

  std::vector<NodeId> order;
  order.reserve(num_nodes);
  for (NodeId n = 0; n < num_nodes; n++) {
    if (flat[n] != 0 || cum[n] != 0) order.push_back(n);
  }
  report.node_count = order.size();
  // pprof's FlatNameOrder.
  auto before = [&](NodeId a, NodeId b) {
    if (Abs(flat[a]) != Abs(flat[b])) return Abs(flat[a]) > Abs(flat[b]);
    if (nodes.Name(a) != nodes.Name(b)) return nodes.Name(a) < nodes.Name(b);
    if (Abs(cum[a]) != Abs(cum[b])) return Abs(cum[a]) > Abs(cum[b]);
    return a < b;
  };
  size_t shown = options.max_rows == 0 ? order.size() : std::min(options.max_rows, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                    before);
  order.resize(shown);
  std::vector<std::string> labels = InlineLabels(profile, nodes, vi, order, flat_sum);
  report.rows.reserve(shown);
  for (size_t r = 0; r < shown; r++) {
    NodeId n = order[r];
    report.rows.push_back({std::string(nodes.Name(n)), flat[n], cum[n], std::move(labels[r])});
    report.shown_flat += flat[n];
  }
  return report;
}

}  // namespace heapscope::analyze
