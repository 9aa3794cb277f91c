// LEAK 4: a thread parked forever now and then.
//
// Slow requests get a watchdog thread that should cancel them if they do not
// finish in time. The completion notification was lost in a refactoring and
// the wait has no timeout, so every watchdog blocks forever on a condition
// variable nobody signals. The demo arms one every 3 s.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_WATCHDOG_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_WATCHDOG_H_

#include <cstddef>
#include <string_view>

namespace demo {

// Starts a detached thread watching `request_id`. It never returns.
void SpawnWatchdog(std::string_view request_id);

// Watchdog threads started so far (all of them are still parked).
size_t WatchdogCount();

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_WATCHDOG_H_
