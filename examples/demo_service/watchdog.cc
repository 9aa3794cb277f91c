#include "watchdog.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace demo {
namespace {

// What a watchdog waits on. It is never freed: glibc's
// pthread_cond_destroy() blocks while a thread still waits on the condition
// variable, so destroying it (even at exit) would hang the process.
struct WatchState {
  std::mutex mutex;
  std::condition_variable finished_changed;
  bool finished = false;
  std::string request_id;
};

std::atomic<size_t> watchdog_count{0};

void WatchUntilFinished(WatchState* state) {
  std::unique_lock<std::mutex> lock(state->mutex);
  state->finished_changed.wait(lock, [state] { return state->finished; });
}

}  // namespace

void SpawnWatchdog(std::string_view request_id) {
  auto* state = new WatchState();
  state->request_id = std::string(request_id);
  std::thread watchdog(WatchUntilFinished, state);
  pthread_setname_np(watchdog.native_handle(), "demo-watchdog");
  watchdog.detach();
  watchdog_count.fetch_add(1, std::memory_order_relaxed);
}

size_t WatchdogCount() { return watchdog_count.load(std::memory_order_relaxed); }

}  // namespace demo
