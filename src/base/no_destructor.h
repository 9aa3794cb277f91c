// Static storage for an object constructed on demand and never destroyed,
// so that threads still running during exit (or hooks called from other
// libraries' destructors) never see it torn down.
#pragma once

#include <new>
#include <utility>

namespace heapscope::base {

template <typename T>
class NoDestructor {
 public:
  template <typename... Args>
  T* Construct(Args&&... args) {
    return new (storage_) T(std::forward<Args>(args)...);
  }
  T* get() { return reinterpret_cast<T*>(storage_); }
  T* operator->() { return get(); }
  T& operator*() { return *get(); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace heapscope::base
