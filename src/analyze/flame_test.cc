#include "analyze/flame.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

CollapsedStacks Collapse(const format::Profile& p) {
  format::Result<CollapsedStacks> s = CollapseStacks(p, "");
  EXPECT_TRUE(s.ok()) << s.error();
  return std::move(*s);
}

// main -> grow: 4000, main -> keep: 5000, main -> shrink: 1000, and a
// function whose name needs escaping in XML and in a <script> element.
format::Profile New() {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t grow = b.Loc({"grow"});
  uint32_t keep = b.Loc({"keep"});
  uint32_t shrink = b.Loc({"shrink"});
  uint32_t odd = b.Loc({"Odd<&>\"</script>"});
  uint32_t main_loc = b.Loc({"main"});
  // Written as demangled by the profile writer: shown as is.
  format::Profile& p = b.profile();
  p.functions[p.lines[p.locations[odd].line_begin].function].system_name = b.Str("_Z3Oddv");
  b.Sample({grow, main_loc}, {4000});
  b.Sample({keep, main_loc}, {5000});
  b.Sample({shrink, main_loc}, {1000});
  b.Sample({odd, main_loc}, {240});
  return b.Build();
}

format::Profile Base() {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t grow = b.Loc({"grow"});
  uint32_t keep = b.Loc({"keep"});
  uint32_t shrink = b.Loc({"shrink"});
  uint32_t gone = b.Loc({"gone"});
  b.Sample({grow, main_loc}, {1000});
  b.Sample({keep, main_loc}, {5000});
  b.Sample({shrink, main_loc}, {3000});
  b.Sample({gone, main_loc}, {700});
  return b.Build();
}

TEST(FlameTest, SvgHasFramesWithTooltipsAndTitle) {
  format::Profile p = New();
  std::string svg = RenderFlameSvg(Collapse(p), nullptr, "");
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" standalone=\"no\"?>\n<svg ", 0), 0u);
  EXPECT_NE(svg.find(">Flame graph (inuse_space, total 10kB)</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>all (10kB, 100%)</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>keep (4.88kB, 48.83%)</title>"), std::string::npos) << svg;
  // Widths by value: all spans 1180 px, main 1180 * 10240 / 10240.
  EXPECT_NE(svg.find("width=\"1180.00\""), std::string::npos);
  // grow (first child of main by name... after Odd) is 4000/10240 of 1180.
  EXPECT_NE(svg.find("width=\"460.94\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>Odd&lt;&amp;&gt;&quot;&lt;/script&gt; (240B, 2.34%)</title>"),
            std::string::npos)
      << svg;
  EXPECT_EQ(svg.find("Odd<"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  // Same name, same colour, whatever the graph.
  format::Profile base = Base();
  std::string other = RenderFlameSvg(Collapse(base), nullptr, "t");
  auto fill_of = [](const std::string& s, const std::string& name) {
    size_t t = s.find("<title>" + name + " (");
    size_t f = s.find("fill=\"", t);
    return s.substr(f, s.find('"', f + 6) - f);
  };
  EXPECT_EQ(fill_of(svg, "keep"), fill_of(other, "keep"));
  EXPECT_NE(fill_of(svg, "keep"), fill_of(svg, "grow"));
}

TEST(FlameTest, DifferentialSvgColoursGrowthRedAndShrinkBlue) {
  format::Profile p = New(), b = Base();
  CollapsedStacks next = Collapse(p), base = Collapse(b);
  std::string svg = RenderFlameSvg(next, &base, "");
  EXPECT_NE(svg.find(">Differential flame graph (inuse_space, base 9.47kB, new 10kB)</text>"),
            std::string::npos)
      << svg;
  auto frame = [&](const std::string& name) {
    size_t t = svg.find("<title>" + name + " (");
    if (t == std::string::npos) return std::string();
    return svg.substr(t, svg.find("</g>", t) - t);
  };
  // grow has the largest change (+3000): full red; shrink -2000: blue.
  EXPECT_NE(frame("grow").find("base 1000B, change +2.93kB</title>"), std::string::npos)
      << frame("grow");
  EXPECT_NE(frame("grow").find("fill=\"rgb(255,50,50)\""), std::string::npos) << frame("grow");
  EXPECT_NE(frame("shrink").find("fill=\"rgb(117,117,255)\""), std::string::npos)
      << frame("shrink");
  EXPECT_NE(frame("keep").find("fill=\"rgb(250,250,250)\""), std::string::npos) << frame("keep");
  // Widths are by NEW: what is gone has no frame.
  EXPECT_EQ(frame("gone"), "");
}

TEST(FlameTest, HtmlEmbedsTheStacksAndFetchesNothing) {
  format::Profile p = New();
  std::string html = RenderFlameHtml(Collapse(p), nullptr, "My service");
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  const std::string open = "<script type=\"application/json\" id=\"flame-data\">";
  size_t begin = html.find(open);
  ASSERT_NE(begin, std::string::npos);
  begin += open.size();
  size_t end = html.find("</script>", begin);
  ASSERT_NE(end, std::string::npos);
  // The name containing "</script>" did not end the element early.
  nlohmann::json j = nlohmann::json::parse(html.substr(begin, end - begin));
  EXPECT_EQ(j["title"], "My service (inuse_space, total 10kB)");
  EXPECT_EQ(j["diff"], false);
  EXPECT_EQ(j["total"], 10240);
  EXPECT_EQ(j["names"],
            nlohmann::json::parse(R"(["Odd<&>\"</script>", "grow", "keep", "main", "shrink"])"));
  EXPECT_EQ(j["stacks"], nlohmann::json::parse(
                             "[[[3, 0], 240], [[3, 1], 4000], [[3, 2], 5000], [[3, 4], 1000]]"));
  EXPECT_NE(html.find("id=\"search\""), std::string::npos);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

TEST(FlameTest, DifferentialHtmlCarriesBothValues) {
  format::Profile p = New(), b = Base();
  CollapsedStacks next = Collapse(p), base = Collapse(b);
  std::string html = RenderFlameHtml(next, &base, "");
  const std::string open = "<script type=\"application/json\" id=\"flame-data\">";
  size_t begin = html.find(open) + open.size();
  nlohmann::json j =
      nlohmann::json::parse(html.substr(begin, html.find("</script>", begin) - begin));
  EXPECT_EQ(j["diff"], true);
  EXPECT_EQ(j["base_total"], 9700);
  EXPECT_EQ(j["names"], nlohmann::json::parse(
                            R"(["Odd<&>\"</script>", "gone", "grow", "keep", "main", "shrink"])"));
  EXPECT_EQ(j["stacks"],
            nlohmann::json::parse("[[[4, 0], 240, 0], [[4, 1], 0, 700], [[4, 2], 4000, 1000], "
                                  "[[4, 3], 5000, 5000], [[4, 5], 1000, 3000]]"));
}

}  // namespace
}  // namespace heapscope::analyze
