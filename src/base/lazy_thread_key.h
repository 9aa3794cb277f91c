// A pthread key made on first use, by whichever thread gets there first,
// without a lock (the runtime's hooks may be the first to need it, before
// any constructor has run).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <atomic>

namespace heapscope::base {

class LazyThreadKey {
 public:
  // True once the key exists (made with `destructor` by the first caller).
  // While another thread is making it: waits when `wait`, else false. False
  // for good when it could not be made.
  bool Ready(void (*destructor)(void*), bool wait) {
    int s = state_.load(std::memory_order_acquire);
    if (s == kReady) return true;
    int expected = kNone;
    if (s == kNone && state_.compare_exchange_strong(expected, kCreating)) {
      bool ok = pthread_key_create(&key_, destructor) == 0;
      state_.store(ok ? kReady : kFailed, std::memory_order_release);
      return ok;
    }
    if (!wait) return false;
    while ((s = state_.load(std::memory_order_acquire)) == kCreating) sched_yield();
    return s == kReady;
  }

  // Valid once Ready() returned true.
  pthread_key_t key() const { return key_; }

 private:
  enum : int { kNone, kCreating, kReady, kFailed };
  pthread_key_t key_{};
  std::atomic<int> state_{kNone};
};

}  // namespace heapscope::base
