// The summary `heapscope run` prints on stderr when the program ends.
#pragma once

#include <cstdint>
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
  std::string why_not;   // when not: why (WhyRuntimeNotLoaded)
};

// How the program ended.
struct RunEnd {
  int status = 0;  // its wait status
  // Killed by SIGKILL while its cgroup's OOM kill count rose: the
  // kernel's OOM killer; memory_limit: the cgroup's (0: none, so the
  // machine's memory ran out).
  bool oom_killed = false;
  uint64_t memory_limit = 0;
};

// Reads <out_dir>/heap.final.pb.gz and prints what was still in use at the
// end, by leading stacks, the peak, the totals, the rate and any drops,
// the leak trends, and the processes the program started. `end`: how the
// program ended. `left`: the processes it left running;
// `followed`: they were waited for (each gets a summary of its own), else
// they are named as still running.
void PrintRunSummary(const std::string& program, const std::string& out_dir, const RunEnd& end,
                     double seconds, const std::vector<LeftRunning>& left, bool followed,
                     FILE* out);

}  // namespace heapscope::cli
