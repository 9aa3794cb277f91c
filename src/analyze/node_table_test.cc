#include "analyze/node_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

std::vector<std::string> Names(const NodeTable& t, uint32_t location) {
  std::vector<std::string> out;
  for (NodeId n : t.NodesOf(location)) out.emplace_back(t.Name(n));
  return out;
}

TEST(NodeTableTest, InlineChainsKeepTheirOrder) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t loc = b.Loc({"inner", "middle", "outer"});
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_EQ(Names(t, loc), (std::vector<std::string>{"inner", "middle", "outer"}));
}

TEST(NodeTableTest, FunctionsWithTheSameNameAreOneNode) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t f1 = b.Function("std::vector<int>::push_back");
  uint32_t f2 = b.Function("std::vector<int>::push_back");
  uint32_t a = b.LocWithFunctions({f1}, format::kNoIndex, 0x10);
  uint32_t c = b.LocWithFunctions({f2}, format::kNoIndex, 0x20);
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_EQ(t.NodesOf(a)[0], t.NodesOf(c)[0]);
  EXPECT_EQ(t.size(), 1u);
}

TEST(NodeTableTest, UnsymbolizedFramesAreNamedNotDropped) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t lib =
      b.Mapping("/usr/lib/x86_64-linux-gnu/libfoo.so.1", 0x7f0000000000, 0x7f0000100000, 0x2000);
  uint32_t anon = b.Mapping("", 0x1000, 0x2000, 0);
  uint32_t in_lib = b.LocWithFunctions({}, lib, 0x7f0000001a2b);
  uint32_t no_mapping = b.LocWithFunctions({}, format::kNoIndex, 0x55aa);
  uint32_t anon_mapping = b.LocWithFunctions({}, anon, 0x1234);
  uint32_t nothing = b.LocWithFunctions({}, format::kNoIndex, 0);
  uint32_t nameless = b.LocWithFunctions({b.Function("")}, lib, 0x7f0000000010);
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_EQ(Names(t, in_lib), (std::vector<std::string>{"libfoo.so.1+0x3a2b"}));
  EXPECT_EQ(Names(t, no_mapping), (std::vector<std::string>{"0x55aa"}));
  EXPECT_EQ(Names(t, anon_mapping), (std::vector<std::string>{"0x1234"}));
  EXPECT_EQ(Names(t, nothing), (std::vector<std::string>{"<unknown>"}));
  EXPECT_EQ(Names(t, nameless), (std::vector<std::string>{"libfoo.so.1+0x2010"}));
}

TEST(NodeTableTest, SameAddressInTheSameModuleIsOneNode) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t lib = b.Mapping("/lib/libc.so.6", 0x1000, 0x9000, 0);
  uint32_t a = b.LocWithFunctions({}, lib, 0x1100);
  uint32_t c = b.LocWithFunctions({}, lib, 0x1100);
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_EQ(t.NodesOf(a)[0], t.NodesOf(c)[0]);
}

TEST(NodeTableTest, NamesAreDisplayedAsPprofDoes) {
  ProfileBuilder b({{"space", "bytes"}});
  // Two overloads and a template: one node, like pprof.
  uint32_t a = b.Loc({"Cache<int>::Insert(int)"});
  uint32_t c = b.Loc({"Cache<long>::Insert(long, bool)"});
  uint32_t mangled = b.Loc({"_ZN5Cache6InsertEi"});
  // Demangled by the writer (name differs from system name): kept.
  uint32_t f = b.Function("Cache<int>::Insert(int) const");
  b.profile().functions[f].system_name = b.Str("_ZNK5CacheIiE6InsertEi");
  uint32_t written = b.LocWithFunctions({f}, format::kNoIndex, 0x10);
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_EQ(Names(t, a), std::vector<std::string>{"Cache::Insert"});
  EXPECT_EQ(t.NodesOf(a)[0], t.NodesOf(c)[0]);
  EXPECT_EQ(t.NodesOf(a)[0], t.NodesOf(mangled)[0]);
  EXPECT_EQ(Names(t, written), std::vector<std::string>{"Cache<int>::Insert(int) const"});
}

TEST(NodeTableTest, NoPruningWithoutDropFrames) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t l = b.Loc({"malloc"});
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_FALSE(t.prunes());
  std::vector<uint32_t> stack = {l, l};
  EXPECT_EQ(t.PrunedPrefix(stack), 0u);
}

TEST(NodeTableTest, DropFramesPrunesLikePprof) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t malloc_loc = b.Loc({"malloc"});
  uint32_t hook = b.Loc({"heapscope::Hook(unsigned long)"});
  uint32_t user = b.Loc({"Cache::Fill()"});
  uint32_t main_loc = b.Loc({"main"});
  // An inline chain whose middle line is dropped keeps only its callers.
  uint32_t mixed = b.Loc({"inner_alloc", "_Znwm", "Parser::Run()"});
  b.profile().drop_frames = b.Str("malloc|heapscope::.*|operator new");
  NodeTable t = NodeTable::Build(b.profile());
  ASSERT_TRUE(t.prunes());
  EXPECT_TRUE(t.prune_warning().empty());

  // Leaf first: malloc <- hook <- user <- main. Everything beneath the
  // outermost dropped frame goes, that frame included.
  std::vector<uint32_t> stack = {malloc_loc, hook, user, main_loc};
  EXPECT_EQ(t.PrunedPrefix(stack), 2u);
  // Dropped frames at the root, before any kept frame, stay.
  std::vector<uint32_t> only_dropped = {malloc_loc, hook};
  EXPECT_EQ(t.PrunedPrefix(only_dropped), 0u);
  // A partially dropped location stays as the new leaf, with its lines
  // trimmed to the callers of the dropped one.
  std::vector<uint32_t> with_mixed = {malloc_loc, mixed, main_loc};
  EXPECT_EQ(t.PrunedPrefix(with_mixed), 1u);
  EXPECT_EQ(Names(t, mixed), std::vector<std::string>{"Parser::Run"});
}

TEST(NodeTableTest, KeepFramesOverridesDropFrames) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t a = b.Loc({"alloc_a"});
  uint32_t c = b.Loc({"alloc_keep"});
  uint32_t user = b.Loc({"user"});
  b.profile().drop_frames = b.Str("alloc_.*");
  b.profile().keep_frames = b.Str("alloc_keep");
  NodeTable t = NodeTable::Build(b.profile());
  std::vector<uint32_t> stack = {a, c, user};
  // alloc_keep is kept, so only alloc_a goes.
  EXPECT_EQ(t.PrunedPrefix(stack), 1u);
}

TEST(NodeTableTest, InvalidDropFramesIsIgnoredWithAWarning) {
  ProfileBuilder b({{"space", "bytes"}});
  b.Loc({"malloc"});
  b.profile().drop_frames = b.Str("malloc(");
  NodeTable t = NodeTable::Build(b.profile());
  EXPECT_FALSE(t.prunes());
  EXPECT_EQ(t.prune_warning(),
            "ignoring the profile's drop_frames, which is not a valid regular expression: "
            "malloc(");
}

}  // namespace
}  // namespace heapscope::analyze
