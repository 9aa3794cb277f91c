#include "analyze/function_names.h"

#include <gtest/gtest.h>

#include <utility>

namespace heapscope::analyze {
namespace {

TEST(FunctionNamesTest, DemanglesLikePprof) {
  // Expected values are what pprof's demangler (ianlancetaylor/demangle
  // with NoParams and NoTemplateParams) prints for these symbols.
  const std::pair<const char*, const char*> cases[] = {
      {"_ZN3foo3barEv", "foo::bar"},
      {"_ZN3foo3barIiEEvT_", "foo::bar"},
      {"_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo"},
      {"_ZNSt6vectorIiSaIiEE17_M_realloc_insertIJRKiEEEvN9__gnu_cxx17__normal_iteratorIPiS1_"
       "EEDpOT_",
       "std::vector::_M_realloc_insert"},
      {"_ZN5CacheclEi", "Cache::operator()"},
      {"_Znwm", "operator new"},
      {"_ZdlPvm", "operator delete"},
      {"_ZN4absl12lts_2023012518container_internal12raw_hash_setINS1_17FlatHashMapPolicyIiiEENS0_"
       "13hash_internal4HashIiEESt8equal_toIiESaISt4pairIKiiEEE6resizeEm",
       "absl::lts_20230125::container_internal::raw_hash_set::resize"},
      {"_ZN3foo3barEi.isra.0", "foo::bar"},
      {"_ZNK3Foo3getEv", "Foo::get"},
      {"_ZN3FooC2Ev", "Foo::Foo"},
      {"_ZN3FooD1Ev", "Foo::~Foo"},
      {"_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()"},
      {"_ZZ4mainENKUliE_clEi", "main::{lambda(int)#1}::operator()"},
      {"_ZN3fooltERKS_S1_", "foo::operator<"},
      {"_ZN2ns3FooIiE3barIcEET_v", "ns::Foo::bar"},
      {"_ZL10static_funv", "static_fun"},
      {"_ZN3FoocviEv", "Foo::operator int"},
      {"_ZN3FooaSERKS_", "Foo::operator="},
      {"_ZN3FooixEm", "Foo::operator[]"},
      {"_ZN3FoolsEi", "Foo::operator<<"},
      {"_ZN3FooptEv", "Foo::operator->"},
      {"_ZN3FoossERKS_", "Foo::operator<=>"},
      {"_ZNKR3Foo3getEv", "Foo::get"},
      {"_ZN3foo3bazIiEEiT_.constprop.0.isra.0", "foo::baz"},
      {"_ZN3FoonaEm", "Foo::operator new[]"},
      {"_ZN5Outer5InnerIiE3runEv", "Outer::Inner::run"},
      {"_ZSt4moveIRiEONSt16remove_referenceIT_E4typeEOS2_", "std::move"},
      {"_ZN3fooIiE3barIPFviEEEvT_", "foo::bar"},
      {"_ZNSt8functionIFvvEEclEv", "std::function::operator()"},
      {"_ZThn8_N3Foo3barEv", "non-virtual thunk to Foo::bar()"},
      {"_ZGVZ4mainE1x", "guard variable for main::x"},
  };
  for (const auto& [mangled, expected] : cases) {
    EXPECT_EQ(DemangleSimplified(mangled), expected) << mangled;
    EXPECT_EQ(DisplayName(mangled, mangled), expected) << mangled;
    EXPECT_EQ(DisplayName("", mangled), expected) << mangled;
  }
  EXPECT_EQ(DemangleSimplified("main"), "");
  EXPECT_EQ(DemangleSimplified("_Znot_really_mangled"), "");
}

TEST(FunctionNamesTest, DemangledNamesLoseGroupsLikePprof) {
  EXPECT_EQ(DisplayName("Cache<int>::Insert(int) const", "Cache<int>::Insert(int) const"),
            "Cache::Insert const");
  // pprof's heuristic drops "(anonymous namespace)" too.
  EXPECT_EQ(DisplayName("", "query::(anonymous namespace)::Parse(void*)"), "query::::Parse");
  EXPECT_EQ(DisplayName("ns::f(std::vector<int>)", "ns::f(std::vector<int>)"), "ns::f");
  // Not C++-looking: untouched.
  EXPECT_EQ(DisplayName("malloc", "malloc"), "malloc");
  EXPECT_EQ(DisplayName("main.allocate", "main.allocate"), "main.allocate");
  EXPECT_EQ(DisplayName("f(int)", "f(int)"), "f(int)");
  EXPECT_EQ(DisplayName("java.lang.Object.<init>", "java.lang.Object.<init>"),
            "java.lang.Object.<init>");
  // Demangled by the writer, with a different system name: kept.
  EXPECT_EQ(DisplayName("Cache<int>::Insert(int)", "_ZN5CacheIiE6InsertEi"),
            "Cache<int>::Insert(int)");
  EXPECT_EQ(DisplayName("Cache<int>::Insert(int)", ""), "Cache<int>::Insert(int)");
  EXPECT_EQ(DisplayName("", ""), "");
}

TEST(FunctionNamesTest, RemoveMatchingIsPprofs) {
  EXPECT_EQ(RemoveMatching("a(b(c)d)e(f)", '(', ')'), "ae");
  EXPECT_EQ(RemoveMatching("a<b<c>>::d", '<', '>'), "a::d");
  // An unmatched closer stops the removal where it is.
  EXPECT_EQ(RemoveMatching("x(y)::operator>()", '<', '>'), "x(y)::operator>()");
  EXPECT_EQ(RemoveMatching("a(b)c)d(e)", '(', ')'), "ac)d(e)");
  EXPECT_EQ(RemoveMatching("open(", '(', ')'), "open(");
}

TEST(FunctionNamesTest, SimplifiesForFrameMatching) {
  EXPECT_EQ(SimplifyFunctionName("ns::Foo::bar(int) const"), "ns::Foo::bar");
  EXPECT_EQ(SimplifyFunctionName("(anonymous namespace)::f(int)"), "(anonymous namespace)::f");
  EXPECT_EQ(SimplifyFunctionName("Lambda::operator()(int)"), "Lambda::operator()");
  EXPECT_EQ(SimplifyFunctionName(".main.f"), "main.f");
  EXPECT_EQ(SimplifyFunctionName("plain"), "plain");
}

TEST(FunctionNamesTest, SimplifiesDemangledCPlusPlusForReading) {
  // Template arguments with parentheses of their own, and a return type.
  EXPECT_EQ(SimplifyCPlusPlusName(
                "void std::vector<std::function<unsigned long ()>, "
                "std::allocator<std::function<unsigned long ()> > >::_M_realloc_insert<"
                "std::function<unsigned long ()> >(__gnu_cxx::__normal_iterator<"
                "std::function<unsigned long ()>*, std::vector<std::function<unsigned long ()>, "
                "std::allocator<std::function<unsigned long ()> > > >, "
                "std::function<unsigned long ()>&&)"),
            "std::vector::_M_realloc_insert");
  EXPECT_EQ(SimplifyCPlusPlusName("ns::Cache<int>::Put(int) const"), "ns::Cache::Put");
  EXPECT_EQ(SimplifyCPlusPlusName("main::{lambda(int)#1}::operator()(int) const"),
            "main::{lambda(int)#1}::operator()");
  EXPECT_EQ(SimplifyCPlusPlusName("std::ostream& std::operator<< <std::char_traits<char> >("
                                  "std::ostream&, char const*)"),
            "std::operator<<");
  EXPECT_EQ(SimplifyCPlusPlusName("(anonymous namespace)::LeakListener()"),
            "(anonymous namespace)::LeakListener");
  EXPECT_EQ(SimplifyCPlusPlusName("demo::Service::Handle[abi:cxx11](int)"),
            "demo::Service::Handle[abi:cxx11]");
  // Not C++: left to the caller.
  EXPECT_EQ(SimplifyCPlusPlusName("LazyCompile:*handler app.js:10"), "");
  EXPECT_EQ(SimplifyCPlusPlusName("malloc"), "");
}

}  // namespace
}  // namespace heapscope::analyze
