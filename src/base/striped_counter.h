// A counter that many threads add to often and few read: one cache line
// per stripe, a thread adds to the stripe its TLS block's address picks,
// so threads seldom share a line; reading sums the stripes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace heapscope::base {

class StripedCounter {
 public:
  void Add(uint64_t v) {
    static __thread char anchor __attribute__((tls_model("initial-exec")));
    // Thread blocks lie at least a page apart.
    size_t i = (reinterpret_cast<uintptr_t>(&anchor) >> 12) & (kStripes - 1);
    stripes_[i].v.fetch_add(v, std::memory_order_relaxed);
  }
  uint64_t load() const {
    uint64_t sum = 0;
    for (const Stripe& s : stripes_) sum += s.v.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr size_t kStripes = 16;
  struct alignas(64) Stripe {
    std::atomic<uint64_t> v{0};
  };
  Stripe stripes_[kStripes];
};

}  // namespace heapscope::base
