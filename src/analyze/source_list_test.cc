#include "analyze/source_list.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

// Sets up functions Leaf (file:2..4) and Caller (file:6..9) with samples:
//   Leaf:3 <- Caller:7   100 B, 1 object
//   Leaf:3 <- Caller:8   50 B, 2 objects
//   Caller:8 (leaf)      7 B, 1 object
format::Profile MakeProfile(const std::string& file) {
  testing::ProfileBuilder b({{"inuse_objects", "count"}, {"inuse_space", "bytes"}});
  format::Profile& p = b.profile();
  uint32_t leaf = b.Function("Leaf");
  uint32_t caller = b.Function("Caller");
  p.functions[leaf].filename = b.Str(file);
  p.functions[leaf].start_line = 2;
  p.functions[caller].filename = b.Str(file);
  p.functions[caller].start_line = 6;
  auto loc = [&](uint32_t fn, int64_t line) {
    uint32_t l = b.LocWithFunctions({fn}, format::kNoIndex, 0);
    p.lines[p.locations[l].line_begin].line = line;
    return l;
  };
  uint32_t leaf3 = loc(leaf, 3);
  uint32_t caller7 = loc(caller, 7);
  uint32_t caller8 = loc(caller, 8);
  b.Sample({leaf3, caller7}, {1, 100});
  b.Sample({leaf3, caller8}, {2, 50});
  b.Sample({caller8}, {1, 7});
  return std::move(p);
}

ListOptions ListOpts(const std::string& regex, const std::string& sample_type = "") {
  ListOptions o;
  o.regex = regex;
  o.sample_type = sample_type;
  return o;
}

std::string WriteSource() {
  std::string path = ::testing::TempDir() + "/source_list_test_" + std::to_string(getpid()) + ".cc";
  std::ofstream(path) << "// header\n"
                         "void Leaf() {\n"
                         "  Allocate();\n"
                         "}\n"
                         "\n"
                         "void Caller() {\n"
                         "  Leaf();\n"
                         "  Leaf(); Allocate();\n"
                         "}\n"
                         "int trailing;\n";
  return path;
}

TEST(SourceList, FlatAndCumPerLineWithCompanion) {
  const std::string src = WriteSource();
  format::Profile p = MakeProfile(src);
  format::Result<ListReport> r = ComputeList(p, ListOpts("Caller"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->sample_type[0], "inuse_space");  // The default: the last type.
  EXPECT_EQ(r->sample_type[1], "inuse_objects");
  EXPECT_EQ(r->total, 157);
  ASSERT_EQ(r->functions.size(), 1u);
  const ListFunction& f = r->functions[0];
  EXPECT_EQ(f.name, "Caller");
  EXPECT_EQ(f.flat[0], 7);
  EXPECT_EQ(f.cum[0], 157);
  EXPECT_EQ(f.cum[1], 4);
  EXPECT_TRUE(f.source_error.empty()) << f.source_error;
  // Lines 6 (declaration) to 9 (the closing brace).
  ASSERT_EQ(f.lines.size(), 4u);
  EXPECT_EQ(f.lines[0].line, 6);
  EXPECT_EQ(f.lines[0].text, "void Caller() {");
  EXPECT_EQ(f.lines[1].cum[0], 100);
  EXPECT_EQ(f.lines[1].flat[0], 0);
  EXPECT_EQ(f.lines[2].line, 8);
  EXPECT_EQ(f.lines[2].flat[0], 7);
  EXPECT_EQ(f.lines[2].cum[0], 57);
  EXPECT_EQ(f.lines[2].cum[1], 3);
  EXPECT_EQ(f.lines[3].text, "}");
  std::string text = FormatListText(*r);
  EXPECT_NE(text.find("ROUTINE ======================== Caller in " + src), std::string::npos)
      << text;
  EXPECT_NE(text.find("      7: "), std::string::npos) << text;
  std::string json = FormatListJson(*r);
  EXPECT_NE(json.find("\"source\": \"  Leaf(); Allocate();\""), std::string::npos) << json;
  unlink(src.c_str());
}

TEST(SourceList, MissingSourceListsTheLinesWithValues) {
  format::Profile p = MakeProfile("/nonexistent/src.cc");
  format::Result<ListReport> r =
      ComputeList(p, ListOpts("^Leaf$", "inuse_objects"));
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->functions.size(), 1u);
  const ListFunction& f = r->functions[0];
  EXPECT_NE(f.source_error.find("cannot read source /nonexistent/src.cc"), std::string::npos);
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_EQ(f.lines[0].line, 3);
  EXPECT_EQ(f.lines[0].flat[0], 3);
  EXPECT_EQ(f.lines[0].flat[1], 150);
}

// drop_frames cuts the innermost lines of an inline chain: the lines left
// keep their own files and line numbers (the caller's line is not taken
// from a dropped frame's header).
TEST(SourceList, InlineChainCutByDropFrames) {
  testing::ProfileBuilder b({{"inuse_space", "bytes"}});
  format::Profile& p = b.profile();
  uint32_t alloc = b.Function("std::allocator_traits<A>::allocate");
  uint32_t caller = b.Function("Caller");
  p.functions[alloc].filename = b.Str("/usr/include/c++/12/bits/alloc_traits.h");
  p.functions[caller].filename = b.Str("/src/caller.cc");
  uint32_t l = b.LocWithFunctions({alloc, caller}, format::kNoIndex, 0);
  p.lines[p.locations[l].line_begin].line = 464;
  p.lines[p.locations[l].line_begin + 1].line = 58;
  b.Sample({l}, {1000});
  p.drop_frames = b.Str("std::allocator_traits(<.*>)?::allocate");
  format::Result<ListReport> r = ComputeList(p, ListOpts("^Caller$"));
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->functions.size(), 1u);
  const ListFunction& f = r->functions[0];
  EXPECT_EQ(f.file, "/src/caller.cc");
  EXPECT_EQ(f.flat[0], 1000);  // the innermost frame left
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_EQ(f.lines[0].line, 58);
}

TEST(SourceList, BadRegexAndNoMatch) {
  format::Profile p = MakeProfile("/x.cc");
  EXPECT_EQ(ComputeList(p, ListOpts("(")).error(), "not a valid regular expression: (");
  format::Result<ListReport> none = ComputeList(p, ListOpts("Nothing"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->functions.empty());
  EXPECT_NE(FormatListText(*none).find("no functions match"), std::string::npos);
}

}  // namespace
}  // namespace heapscope::analyze
