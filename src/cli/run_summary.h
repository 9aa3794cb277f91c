// The summary `heapscope run` prints on stderr when the program ends.
#pragma once

#include <cstdio>
#include <string>

namespace heapscope::cli {

// Reads <out_dir>/heap.final.pb.gz and prints what was still in use at the
// end, by leading stacks, the peak, the totals, the rate and any drops.
// `status` is the wait status of the program.
void PrintRunSummary(const std::string& program, const std::string& out_dir, int status,
                     double seconds, FILE* out);

}  // namespace heapscope::cli
