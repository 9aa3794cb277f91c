// The age buckets of in-use objects: what the runtime writes as the "age"
// label of a heap profile's samples (the bucket's lower bound, in seconds)
// and what the analyzer reads back. Two buckets per octave: lower bounds
// 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, ... seconds.
#pragma once

#include <cstdint>

namespace heapscope::base {

inline constexpr int kAgeBuckets = 64;

// The lower bound, in seconds, of bucket i (0 <= i < kAgeBuckets).
constexpr uint64_t AgeBucketLow(int i) {
  if (i <= 1) return static_cast<uint64_t>(i);
  const int k = i / 2;
  return (i % 2 == 0) ? uint64_t{1} << k : uint64_t{3} << (k - 1);
}

// The bucket of an age of `age_sec` whole seconds.
constexpr int AgeBucketOf(uint64_t age_sec) {
  if (age_sec <= 1) return static_cast<int>(age_sec);
  const int k = 63 - __builtin_clzll(age_sec);
  const int i = 2 * k + (age_sec >= (uint64_t{3} << (k - 1)) ? 1 : 0);
  return i < kAgeBuckets ? i : kAgeBuckets - 1;
}

static_assert(AgeBucketOf(0) == 0 && AgeBucketOf(1) == 1 && AgeBucketOf(2) == 2 &&
              AgeBucketOf(3) == 3 && AgeBucketOf(5) == 4 && AgeBucketOf(7) == 5 &&
              AgeBucketOf(12) == 7 && AgeBucketLow(7) == 12 && AgeBucketLow(8) == 16);

}  // namespace heapscope::base
