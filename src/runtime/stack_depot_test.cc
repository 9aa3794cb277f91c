#include "runtime/stack_depot.h"

#include <gtest/gtest.h>

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

}  // namespace heapscope::runtime
