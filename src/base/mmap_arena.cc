#include "base/mmap_arena.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace heapscope::base {
namespace {

std::atomic<size_t> g_mapped_bytes{0};

size_t PageRound(size_t n) {
  const size_t page = 4096;
  return (n + page - 1) & ~(page - 1);
}

}  // namespace

size_t ProfilerMappedBytes() { return g_mapped_bytes.load(std::memory_order_relaxed); }

void* MapPages(size_t bytes) {
  bytes = PageRound(bytes);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  g_mapped_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return p;
}

void ReleasePages(void* p, size_t bytes) {
  if (p == nullptr) return;
  madvise(p, PageRound(bytes), MADV_DONTNEED);
}

void UnmapPages(void* p, size_t bytes) {
  if (p == nullptr) return;
  bytes = PageRound(bytes);
  munmap(p, bytes);
  g_mapped_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

void* MmapArena::Alloc(size_t bytes, size_t align) {
  SpinLockHolder h(lock_);
  uintptr_t p = (cur_ + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  if (cur_ == 0 || p + bytes > end_) {
    size_t need = bytes + align + sizeof(Chunk);
    size_t size = need > chunk_bytes_ ? PageRound(need) : chunk_bytes_;
    void* mem = MapPages(size);
    if (mem == nullptr) return nullptr;
    Chunk* c = static_cast<Chunk*>(mem);
    c->next = chunks_;
    c->size = size;
    chunks_ = c;
    mapped_.fetch_add(size, std::memory_order_relaxed);
    cur_ = reinterpret_cast<uintptr_t>(mem) + sizeof(Chunk);
    end_ = reinterpret_cast<uintptr_t>(mem) + size;
    p = (cur_ + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  }
  cur_ = p + bytes;
  return reinterpret_cast<void*>(p);
}

void MmapArena::Reset() {
  SpinLockHolder h(lock_);
  while (chunks_ != nullptr) {
    Chunk* next = chunks_->next;
    UnmapPages(chunks_, chunks_->size);
    chunks_ = next;
  }
  cur_ = end_ = 0;
  mapped_.store(0, std::memory_order_relaxed);
}

MmapBuffer::~MmapBuffer() {
  if (data_ != nullptr) UnmapPages(data_, cap_);
}

bool MmapBuffer::Reserve(size_t n) {
  if (size_ + n <= cap_) return true;
  size_t want = cap_ == 0 ? 64 * 1024 : cap_;
  while (want < size_ + n) want *= 2;
  want = PageRound(want);
  void* p = MapPages(want);
  if (p == nullptr) {
    failed_ = true;
    return false;
  }
  if (data_ != nullptr) {
    memcpy(p, data_, size_);
    UnmapPages(data_, cap_);
  }
  data_ = static_cast<uint8_t*>(p);
  cap_ = want;
  return true;
}

bool MmapBuffer::Append(const void* data, size_t n) {
  if (!Reserve(n)) return false;
  memcpy(data_ + size_, data, n);
  size_ += n;
  return true;
}

}  // namespace heapscope::base
