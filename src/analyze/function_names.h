// Function names as pprof shows them by default. pprof's symbolizer
// "demangles" every function whose name is empty or equal to its system
// name, with parameters and template arguments left out: mangled C++
// ("_ZN5Cache6InsertERKSs") becomes "Cache::Insert", and already demangled
// C++ ("Cache<int>::Insert(int)") loses its <...> and (...) groups. Names a
// profile writer demangled itself (name != system_name) stay as written.
// heapscope does the same so its reports group and sort like pprof's.
#pragma once

#include <string>
#include <string_view>

namespace heapscope::analyze {

// The name pprof's default demangling gives a function with these `name`
// and `system_name` fields.
std::string DisplayName(std::string_view name, std::string_view system_name);

// A mangled C++ name ("_Z...") demangled without parameters, template
// arguments, return type, cv-qualifiers or clone suffixes, as pprof's
// demangler prints it; "" if `mangled` does not demangle.
std::string DemangleSimplified(std::string_view mangled);

// pprof's removeMatching: removes nested groups open...close, e.g. every
// "(...)". Stops, returning what it has, at an unmatched `close`.
std::string RemoveMatching(std::string name, char open, char close);

// A demangled C++ name as a person reads it in a stack: without return
// type, parameters, template arguments, qualifiers or clone suffix
// ("void std::vector<std::function<void ()>>::_M_realloc_insert<...>(...)"
// -> "std::vector::_M_realloc_insert"), as DemangleSimplified prints a
// mangled one; "" if `name` does not look like demangled C++.
std::string SimplifyCPlusPlusName(std::string_view name);

// pprof's simplifyFunc, used to match drop_frames: the name without its
// parameter list, keeping "(anonymous namespace)" and "operator()".
std::string_view SimplifyFunctionName(std::string_view name);

}  // namespace heapscope::analyze
