// A small test-and-test-and-set spinlock for the runtime's short critical
// sections. It never allocates and never blocks in the kernel for long: after
// spinning it yields with sched_yield.
#pragma once

#include <sched.h>

#include <atomic>

namespace heapscope::base {

class SpinLock {
 public:
  constexpr SpinLock() = default;
  void Lock() {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    LockSlow();
  }
  bool TryLock() { return !locked_.exchange(true, std::memory_order_acquire); }
  // Lock, but give up after a bounded wait (64 tries, then up to 936 more
  // with sched_yield between): for readers that must not hang on a lock
  // whose owner may never run again (a thread stopped inside the profiler
  // by a signal that waits for the final profile). False: not taken.
  bool LockBounded() {
    for (int tries = 0; tries < 1000; tries++) {
      if (TryLock()) return true;
      if (tries >= 64) sched_yield();
    }
    return false;
  }
  void Unlock() { locked_.store(false, std::memory_order_release); }
  // After fork in the child, the only thread left owns nothing.
  void ResetAfterFork() { locked_.store(false, std::memory_order_relaxed); }

 private:
  void LockSlow() {
    for (int spins = 0;; spins++) {
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire)) {
        return;
      }
      if (spins < 64) {
        __builtin_ia32_pause();
      } else {
        sched_yield();
      }
    }
  }
  std::atomic<bool> locked_{false};
};

class SpinLockHolder {
 public:
  explicit SpinLockHolder(SpinLock& l) : l_(l) { l_.Lock(); }
  ~SpinLockHolder() { l_.Unlock(); }
  SpinLockHolder(const SpinLockHolder&) = delete;
  SpinLockHolder& operator=(const SpinLockHolder&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace heapscope::base
