#include "base/mmap_arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace heapscope::base {

TEST(MmapArena, AlignedAndCounted) {
  size_t before = ProfilerMappedBytes();
  {
    MmapArena arena(64 * 1024);
    void* a = arena.Alloc(10, 8);
    void* b = arena.Alloc(100, 64);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
    void* big = arena.Alloc(1 << 20, 16);
    ASSERT_NE(big, nullptr);
    memset(big, 1, 1 << 20);
    EXPECT_GE(arena.mapped_bytes(), (1u << 20) + 64 * 1024);
    EXPECT_GE(ProfilerMappedBytes(), before + arena.mapped_bytes());
  }
  EXPECT_EQ(ProfilerMappedBytes(), before);
}

TEST(MmapArena, ThreadSafe) {
  MmapArena arena(4096);
  std::vector<std::thread> threads;
  std::vector<std::vector<int*>> got(4);
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; i++) {
        int* p = static_cast<int*>(arena.Alloc(sizeof(int), alignof(int)));
        *p = t * 1000 + i;
        got[t].push_back(p);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; t++) {
    for (int i = 0; i < 1000; i++) EXPECT_EQ(*got[t][i], t * 1000 + i);
  }
}

TEST(MmapBuffer, Grows) {
  MmapBuffer buf;
  std::vector<uint8_t> expect;
  for (int i = 0; i < 200000; i++) {
    uint8_t v = static_cast<uint8_t>(i * 7);
    ASSERT_TRUE(buf.Append(&v, 1));
    expect.push_back(v);
  }
  ASSERT_EQ(buf.size(), expect.size());
  EXPECT_EQ(memcmp(buf.data(), expect.data(), expect.size()), 0);
  EXPECT_FALSE(buf.failed());
}

}  // namespace heapscope::base
