#include "web/flame_tree.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <queue>
#include <vector>

namespace heapscope::web {
namespace {

using Json = nlohmann::ordered_json;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// The flame tree of merged stacks (folded.h), built in one pass over them:
// they are sorted by frame names root first, so the stacks under any prefix
// are contiguous and a frame's value is final once the walk leaves it. Each
// node carries [0] next's value, [1] base's; `diff` says whether base is a
// diff base (else a companion sample type, e.g. objects beside bytes).
class FlameTree {
 public:
  FlameTree(const analyze::MergedStacks& merged, bool diff) : m_(merged), diff_(diff) {}

  // The tree as JSON members (no braces): "names", then "nodes" in
  // preorder, children by name, five numbers per node (name index, value,
  // companion, base, child count), then "node_count" and "pruned". Only the
  // `budget` largest frames (by |value|, or also |base| in a diff), and
  // none below `min_value`, are sent: a frame's value never exceeds its
  // parent's, so what is kept is a tree.
  std::string ToJsonMembers(int64_t min_value, size_t budget) {
    // Pass 1: the threshold that keeps at most `budget` frames.
    std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> largest;
    size_t frames = Walk(0, [&](int64_t key) {
      if (largest.size() < budget) {
        largest.push(key);
      } else if (key > largest.top()) {
        largest.pop();
        largest.push(key);
      }
      return true;
    });
    int64_t threshold = std::max<int64_t>(1, min_value);
    if (frames > budget && !largest.empty()) threshold = std::max(threshold, largest.top() + 1);
    // Pass 2: the frames at or above it.
    out_.clear();
    Walk(threshold, [&](int64_t key) { return key >= threshold; });
    std::vector<uint32_t> renumber(m_.names.size(), UINT32_MAX);
    Json names = Json::array();
    names.push_back("all");
    std::string nodes;
    nodes.reserve(out_.size() * 8);
    for (size_t i = 0; i < out_.size(); i++) {
      if (i > 0) nodes += ',';
      int64_t v = out_[i];
      if (i % 5 == 0) {
        if (v < 0) {
          v = 0;
        } else {
          uint32_t& r = renumber[static_cast<size_t>(v)];
          if (r == UINT32_MAX) {
            r = static_cast<uint32_t>(names.size());
            names.push_back(m_.names[static_cast<size_t>(v)]);
          }
          v = r;
        }
      }
      AppendInt(&nodes, v);
    }
    size_t emitted = out_.size() / 5;
    std::string json =
        "\"names\":" + names.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        ",\"nodes\":[" + nodes + "]";
    json += ",\"node_count\":" + std::to_string(emitted);
    json += ",\"pruned\":" + std::to_string(frames + 1 - emitted);
    return json;
  }

 private:
  struct Open {
    int32_t name;
    int64_t v[2];
    size_t at;  // Where its record starts in out_.
    int64_t kids = 0;
  };

  int64_t Key(const Open& o) const {
    return diff_ ? std::max(std::llabs(o.v[0]), std::llabs(o.v[1])) : std::llabs(o.v[0]);
  }

  // Visits every frame in preorder; `keep(key)` decides, once a frame is
  // complete, whether its record (written to out_ when threshold > 0)
  // stays. Returns the number of frames below the root.
  template <typename Keep>
  size_t Walk(int64_t threshold, Keep keep) {
    const bool write = threshold > 0;
    std::vector<Open> path;
    size_t frames = 0;
    auto open = [&](int32_t name) {
      path.push_back(Open{name, {0, 0}, out_.size()});
      if (write) out_.insert(out_.end(), {name, 0, 0, 0, 0});
    };
    auto close = [&] {
      Open o = path.back();
      path.pop_back();
      bool kept = keep(Key(o));
      if (!write) return;
      if (!kept) {
        out_.resize(o.at);
        return;
      }
      out_[o.at + 1] = o.v[0];
      out_[o.at + 2 + (diff_ ? 1 : 0)] = o.v[1];
      out_[o.at + 4] = o.kids;
      if (!path.empty()) path.back().kids++;
    };
    open(-1);
    const std::vector<uint32_t>* prev = nullptr;
    for (const analyze::MergedStack& s : m_.stacks) {
      size_t common = 0;
      if (prev != nullptr) {
        while (common < prev->size() && common < s.frames.size() &&
               (*prev)[common] == s.frames[common]) {
          common++;
        }
      }
      while (path.size() > common + 1) close();
      for (size_t k = common; k < s.frames.size(); k++) {
        open(static_cast<int32_t>(s.frames[k]));
        frames++;
      }
      for (Open& o : path) {
        o.v[0] += s.next;
        o.v[1] += s.base;
      }
      prev = &s.frames;
    }
    while (path.size() > 1) close();
    // The root is always kept.
    Open root = path.back();
    if (write) {
      out_[root.at + 1] = root.v[0];
      out_[root.at + 2 + (diff_ ? 1 : 0)] = root.v[1];
      out_[root.at + 4] = root.kids;
    }
    return frames;
  }

  const analyze::MergedStacks& m_;
  bool diff_;
  std::vector<int64_t> out_;
};

}  // namespace

std::string FlameTreeJsonMembers(const analyze::MergedStacks& merged, bool diff, int64_t min_value,
                                 size_t budget) {
  return FlameTree(merged, diff).ToJsonMembers(min_value, budget);
}

}  // namespace heapscope::web
