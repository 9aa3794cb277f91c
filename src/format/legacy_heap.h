// Readers for the legacy text heap profiles of the two C/C++ allocators
// people profile with today, into the same Profile model ReadProfile
// produces:
//
//   gperftools (tcmalloc's HEAPPROFILE, and net/http/pprof's ?debug=1):
//     heap profile:   15:  25000 [   15:  25000] @ heapprofile
//          5:  15000 [    5:  15000] @ 0x55c9d3f871d2 0x55c9d3f8706e ...
//     MAPPED_LIBRARIES:
//     55c9d3f87000-55c9d3f88000 r-xp 00001000 00:00 10960906  /tmp/t
//   The header's tag is "heapprofile" (every allocation recorded), or
//   "heap_v2/RATE", "heapz_v2/RATE" or "heap/2*RATE" (sampled).
//
//   jemalloc heap_v2 (prof_final, prof.dump, jeprof's input):
//     heap_v2/524288
//       t*: 16: 107520 [0: 0]
//       t0: 16: 107520 [0: 0]
//     @ 0x7ff1e58a2630 0x7ff1e58a2d21 ...
//       t*: 10: 10240 [0: 0]
//     MAPPED_LIBRARIES:
//     ...
//
// Each profile gets four sample types, alloc_objects, alloc_space,
// inuse_objects and inuse_space (the default); "N: M" are the in-use
// objects and bytes, "[N: M]" the allocated ones. Sampled profiles are
// unbiased as pprof's legacy_profile.go (scaleHeapSample) and jeprof do:
// each stack's count and size are multiplied by 1/(1 - exp(-avg/RATE)),
// avg = size/count, truncated to integers; RATE 1 leaves them as they are.
// Addresses are return addresses: locations get address - 1, leaf first.
// Executable /proc/maps lines after MAPPED_LIBRARIES become the mappings
// (no build IDs: the files are symbolized by path). drop_frames is pprof's
// list of allocator entry points (malloc, operator new, tcmalloc::...), so
// reports start at the program's own frames.
#pragma once

#include <string_view>

#include "format/profile.h"

namespace heapscope::format {

// True if `text` starts (after blank space) like a gperftools heap profile.
bool LooksLikeGperftoolsHeap(std::string_view text);
// True if `text` starts like a jemalloc heap_v2 dump.
bool LooksLikeJemallocHeap(std::string_view text);

// Errors are one line: "SOURCE:LINE: what is wrong".
Result<Profile> ReadGperftoolsHeap(std::string_view text, std::string_view source = "profile");
Result<Profile> ReadJemallocHeap(std::string_view text, std::string_view source = "profile");

}  // namespace heapscope::format
