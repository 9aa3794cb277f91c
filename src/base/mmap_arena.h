// Memory straight from mmap, for the runtime's own tables and buffers, so
// the profiler never allocates through the hooks it installs. Every byte it
// maps is counted, so the profiler can report its own memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/spinlock.h"

namespace heapscope::base {

// Bytes currently mapped by the profiler for itself.
size_t ProfilerMappedBytes();

// Maps zeroed, private, anonymous memory rounded up to pages. Returns
// nullptr on failure (never aborts).
[[nodiscard]] void* MapPages(size_t bytes);
void UnmapPages(void* p, size_t bytes);
// Gives the pages of a MapPages block back to the system but keeps them
// mapped: they read as zeros from then on. For memory that lock-free
// readers may still look at, but whose contents no longer matter.
void ReleasePages(void* p, size_t bytes);

// A bump allocator over mmap'ed chunks. Memory is released only by Reset()
// or the destructor. Thread-safe.
class MmapArena {
 public:
  constexpr explicit MmapArena(size_t chunk_bytes = 1 << 20) : chunk_bytes_(chunk_bytes) {}
  ~MmapArena() { Reset(); }
  MmapArena(const MmapArena&) = delete;
  MmapArena& operator=(const MmapArena&) = delete;

  [[nodiscard]] void* Alloc(size_t bytes, size_t align = 16);
  // Frees every chunk.
  void Reset();
  size_t mapped_bytes() const { return mapped_.load(std::memory_order_relaxed); }

 private:
  struct Chunk {
    Chunk* next;
    size_t size;
  };
  SpinLock lock_;
  Chunk* chunks_ = nullptr;
  uintptr_t cur_ = 0;
  uintptr_t end_ = 0;
  size_t chunk_bytes_;
  std::atomic<size_t> mapped_{0};
};

// A growable byte buffer backed by mmap (grows with mremap). Not thread-safe.
class MmapBuffer {
 public:
  constexpr MmapBuffer() = default;
  ~MmapBuffer();
  MmapBuffer(const MmapBuffer&) = delete;
  MmapBuffer& operator=(const MmapBuffer&) = delete;

  // Returns false (and keeps the contents) if memory cannot be had.
  [[nodiscard]] bool Append(const void* data, size_t n);
  [[nodiscard]] bool Reserve(size_t n);
  void Clear() { size_ = 0; failed_ = false; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // True once an Append failed for lack of memory.
  bool failed() const { return failed_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
  bool failed_ = false;
};

}  // namespace heapscope::base
