// A small, fast, seedable PRNG (SplitMix64) so every worker produces its own
// reproducible stream of synthetic requests without sharing state.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_RANDOM_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_RANDOM_H_

#include <cstdint>

namespace demo {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound); bound must be > 0.
  uint64_t Below(uint64_t bound) { return Next() % bound; }

  // Uniform in [low, high].
  uint64_t Between(uint64_t low, uint64_t high) { return low + Below(high - low + 1); }

 private:
  uint64_t state_;
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_RANDOM_H_
