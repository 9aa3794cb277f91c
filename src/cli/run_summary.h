// The summary `heapscope run` prints on stderr when the program ends.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace heapscope::cli {

// A process the program left running when it ended (a daemon it started,
// re-parented to `heapscope run`); with --follow, how it ended.
struct LeftRunning {
  long pid = 0;
  std::string name;    // its command name
  bool ended = false;
  int status = 0;      // wait status, once it ended
  double seconds = 0;  // when it ended, from the start of the run
  bool profiled = true;  // the runtime is loaded in it (it writes profiles)
};

// Reads <out_dir>/heap.final.pb.gz and prints what was still in use at the
// end, by leading stacks, the peak, the totals, the rate and any drops,
// the leak trends, and the processes the program started. `status` is the
// wait status of the program. `left`: the processes it left running;
// `followed`: they were waited for (each gets a summary of its own), else
// they are named as still running.
void PrintRunSummary(const std::string& program, const std::string& out_dir, int status,
                     double seconds, const std::vector<LeftRunning>& left, bool followed,
                     FILE* out);

}  // namespace heapscope::cli
