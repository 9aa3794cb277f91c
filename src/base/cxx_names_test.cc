#include "base/cxx_names.h"

#include <gtest/gtest.h>

#include <string>

namespace heapscope::base {
namespace {

std::string Short(std::string_view d, size_t cap) {
  std::string out(cap, '#');
  size_t n = ShortCxxName(d, out.data(), cap);
  EXPECT_LE(n, cap);
  // Nothing is written past cap.
  out.resize(n);
  return out;
}

TEST(CxxNamesTest, ShortFormAsPprofShowsIt) {
  constexpr std::string_view kName =
      "void std::vector<char, std::allocator<char> >::_M_range_initialize<char const*>(char "
      "const*, char const*, std::forward_iterator_tag)";
  EXPECT_EQ(Short(kName, kName.size()), "std::vector::_M_range_initialize");
  EXPECT_EQ(Short("ns::Cache<int>::Put(int) const &&", 64), "ns::Cache::Put");
  EXPECT_EQ(Short("(anonymous namespace)::Parse(char const*) [clone .cold]", 64),
            "(anonymous namespace)::Parse");
  EXPECT_EQ(Short("Foo::operator<<(int)", 64), "Foo::operator<<");
  EXPECT_EQ(Short("vtable for Foo", 64), "vtable for Foo");
  EXPECT_EQ(Short("main", 64), "main");
}

TEST(CxxNamesTest, NeverWritesPastItsRoom) {
  std::string buf(40, '#');
  size_t n = ShortCxxName("void very::long_namespace_name::Function(int)", buf.data(), 8);
  EXPECT_EQ(n, 8u);
  EXPECT_EQ(buf.substr(8), std::string(32, '#'));
  buf.assign(40, '#');
  EXPECT_EQ(ShortCxxName("vtable for SomethingLong", buf.data(), 4), 4u);
  EXPECT_EQ(buf.substr(4), std::string(36, '#'));
}

TEST(CxxNamesTest, ManySpacesBeforeTheName) {
  // More return-type words than the starts it remembers: the last start
  // still wins.
  std::string d;
  for (int i = 0; i < 40; i++) d += "unsigned ";
  d += "Thing::Get() const volatile &";
  EXPECT_EQ(Short(d, d.size()), "Thing::Get");
}

}  // namespace
}  // namespace heapscope::base
