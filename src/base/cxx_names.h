// The short form of a demangled C++ name, as pprof prints function names by
// default: no return type, parameter lists, template arguments, trailing
// qualifiers or clone suffix ("void std::vector<int>::push_back(int const&)"
// -> "std::vector::push_back"). Allocates nothing, so the runtime can name
// functions this way inside the profiled process; the analyzer uses it too.
#pragma once

#include <cstddef>
#include <string_view>

namespace heapscope::base {

// Writes the short form of the demangled name `d` into out[0..cap) and
// returns its length. The short form is never longer than `d`; with
// cap >= d.size() it is never cut. Names the demangler gives to
// compiler-made symbols ("vtable for X", "guard variable for Y") are
// copied as they are.
size_t ShortCxxName(std::string_view d, char* out, size_t cap);

}  // namespace heapscope::base
