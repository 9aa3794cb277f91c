#include "runtime/stack_depot.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace heapscope::runtime {

TEST(StackDepot, DeduplicatesAndKeepsFrames) {
  StackDepot d;
  ASSERT_TRUE(d.Init(1000));
  uintptr_t a[] = {1, 2, 3};
  uintptr_t b[] = {1, 2, 4};
  bool is_new;
  StackId ia = d.FindOrInsert(a, 3, false, &is_new);
  EXPECT_TRUE(is_new);
  StackId ib = d.FindOrInsert(b, 3, false, &is_new);
  EXPECT_TRUE(is_new);
  EXPECT_NE(ia, ib);
  EXPECT_EQ(d.FindOrInsert(a, 3, false, &is_new), ia);
  EXPECT_FALSE(is_new);
  // Same frames but marked truncated is another stack.
  EXPECT_NE(d.FindOrInsert(a, 3, true, &is_new), ia);
  EXPECT_EQ(d.FindOrInsert(a, 2, false, &is_new), 4u);
  StackNode* n = d.Get(ib);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->depth, 3);
  EXPECT_EQ(n->frames[2], 4u);
  EXPECT_EQ(d.size(), 4u);
}

TEST(StackDepot, FullReturnsZero) {
  StackDepot d;
  ASSERT_TRUE(d.Init(10));
  bool is_new;
  for (uintptr_t i = 1; i <= 10; i++) EXPECT_NE(d.FindOrInsert(&i, 1, false, &is_new), 0u);
  uintptr_t extra = 99;
  EXPECT_EQ(d.FindOrInsert(&extra, 1, false, &is_new), 0u);
  uintptr_t old = 3;
  EXPECT_EQ(d.FindOrInsert(&old, 1, false, &is_new), 3u);
}

TEST(StackDepot, ConcurrentInsertsGiveOneIdPerStack) {
  StackDepot d;
  ASSERT_TRUE(d.Init(100000));
  std::vector<std::thread> threads;
  std::vector<std::vector<StackId>> ids(4, std::vector<StackId>(5000));
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      bool is_new;
      for (uintptr_t i = 0; i < 5000; i++) {
        uintptr_t frames[2] = {i, i * 3};
        ids[t][i] = d.FindOrInsert(frames, 2, false, &is_new);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 1; t < 4; t++) EXPECT_EQ(ids[t], ids[0]);
  EXPECT_EQ(d.size(), 5000u);
}

// The index keys on a hash alone: stacks that differ in one frame, in the
// order of their frames, in depth or in truncation all stay apart, through
// the index's growth (4096 slots at first, doubled at every half).
TEST(StackDepot, NearStacksStayApartThroughGrowth) {
  StackDepot d;
  ASSERT_TRUE(d.Init(1 << 16));
  bool is_new;
  std::vector<std::vector<uintptr_t>> stacks;
  for (uintptr_t i = 0; i < 3000; i++) {
    uintptr_t base = 0x555555554000 + i * 16;
    stacks.push_back({base, base + 1, 0x7f0000001000});
    stacks.push_back({base + 1, base, 0x7f0000001000});  // the same frames swapped
    stacks.push_back({base, base + 1});                  // one frame less
  }
  std::vector<StackId> ids;
  for (const auto& s : stacks) {
    ids.push_back(d.FindOrInsert(s.data(), static_cast<int>(s.size()), false, &is_new));
    EXPECT_TRUE(is_new);
  }
  ASSERT_EQ(d.size(), stacks.size());
  for (size_t k = 0; k < stacks.size(); k++) {
    const auto& s = stacks[k];
    EXPECT_EQ(d.FindOrInsert(s.data(), static_cast<int>(s.size()), false, &is_new), ids[k]);
    EXPECT_FALSE(is_new);
    StackNode* n = d.Get(ids[k]);
    ASSERT_NE(n, nullptr);
    ASSERT_EQ(n->depth, s.size());
    EXPECT_EQ(memcmp(n->frames, s.data(), s.size() * sizeof(uintptr_t)), 0);
    EXPECT_EQ(n->counters, &d.Counters(ids[k]));
    EXPECT_NE(d.FindOrInsert(s.data(), static_cast<int>(s.size()), true, &is_new), ids[k]);
  }
  EXPECT_EQ(d.size(), 2 * stacks.size());
}

}  // namespace heapscope::runtime
