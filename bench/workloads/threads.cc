// bench-threads: many threads (--threads, default 8) freeing each other's
// memory.
//
// The threads form a ring: each allocates messages (16 B .. 4 KB, skewed to
// small) and hands them in batches to the next thread's inbox, and frees
// whatever arrives in its own inbox from the previous thread. Every message
// is therefore allocated on one thread and freed on another, the pattern that
// stresses an allocator's (and a profiler's) cross-thread paths. Inboxes are
// bounded; a thread whose neighbour is full drains its own inbox meanwhile,
// so the ring cannot deadlock.
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr uint64_t kBaseMessagesPerThread = 2'500'000;
constexpr size_t kBatchSize = 64;
constexpr size_t kInboxCapacity = 4096;

struct Message {
  uint64_t sequence;
  uint32_t size;  // Total bytes including this header.
  uint32_t producer;
  // Payload follows.
};

size_t PickSize(bench::Rng& rng) {
  const uint64_t bucket = rng.Below(100);
  if (bucket < 70) return rng.Between(sizeof(Message), 256);
  if (bucket < 95) return rng.Between(257, 1024);
  return rng.Between(1025, 4096);
}

// Inboxes and workers sit side by side in vectors, one per thread: cache-line
// alignment keeps one thread's writes off its neighbours' lines, so the
// results do not depend on where the allocator placed the vectors.
class alignas(64) Inbox {
 public:
  // Appends the whole batch and clears it, unless the inbox is over capacity.
  bool TryPush(std::vector<Message*>& batch) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (messages_.size() >= kInboxCapacity) return false;
      messages_.insert(messages_.end(), batch.begin(), batch.end());
    }
    batch.clear();
    arrived_.notify_one();
    return true;
  }

  // Swaps out everything queued; `wait` blocks until something is there.
  void TakeAll(std::vector<Message*>& out, bool wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (wait) arrived_.wait(lock, [this] { return !messages_.empty(); });
    out.swap(messages_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Message*> messages_;
};

struct alignas(64) Worker {
  uint64_t consumed = 0;
  uint64_t checksum = 0;
  std::vector<Message*> received;

  // Frees every received message; returns how many there were.
  size_t Consume(Inbox& inbox, bool wait) {
    received.clear();
    inbox.TakeAll(received, wait);
    for (Message* message : received) {
      const auto* payload = reinterpret_cast<const unsigned char*>(message + 1);
      const size_t payload_size = message->size - sizeof(Message);
      const uint64_t value = message->sequence * 7 + message->producer +
                             (payload_size > 0 ? payload[0] + payload[payload_size - 1] : 0);
      checksum = bench::MixChecksum(checksum, value);
      std::free(message);
    }
    consumed += received.size();
    return received.size();
  }
};

void RunThread(int index, int thread_count, uint64_t messages, std::vector<Inbox>& inboxes,
               Worker& worker) {
  Inbox& own = inboxes[static_cast<size_t>(index)];
  Inbox& next = inboxes[static_cast<size_t>((index + 1) % thread_count)];
  bench::Rng rng(0x7EADu + static_cast<uint64_t>(index));
  std::vector<Message*> batch;
  batch.reserve(kBatchSize);
  uint64_t produced = 0;
  while (produced < messages) {
    while (batch.size() < kBatchSize && produced + batch.size() < messages) {
      const size_t size = PickSize(rng);
      auto* message = static_cast<Message*>(std::malloc(size));
      if (message == nullptr) std::abort();
      message->sequence = produced + batch.size();
      message->size = static_cast<uint32_t>(size);
      message->producer = static_cast<uint32_t>(index);
      const size_t payload_size = size - sizeof(Message);
      std::memset(message + 1, static_cast<int>(rng.Next() & 0xFF),
                  payload_size < 32 ? payload_size : 32);
      if (payload_size > 0) reinterpret_cast<unsigned char*>(message + 1)[payload_size - 1] = 0x5A;
      batch.push_back(message);
    }
    const size_t batch_size = batch.size();
    while (!next.TryPush(batch)) {
      if (worker.Consume(own, false) == 0) std::this_thread::yield();
    }
    produced += batch_size;
    worker.Consume(own, false);
  }
  while (worker.consumed < messages) worker.Consume(own, true);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::WorkloadArgs args = bench::ParseArgs(argc, argv, "threads", 8, true);
  const uint64_t per_thread = bench::Scaled(kBaseMessagesPerThread, args.scale);
  bench::Stopwatch stopwatch;

  std::vector<Inbox> inboxes(static_cast<size_t>(args.threads));
  std::vector<Worker> workers(static_cast<size_t>(args.threads));
  std::vector<std::thread> threads;
  for (int i = 0; i < args.threads; ++i) {
    threads.emplace_back(RunThread, i, args.threads, per_thread, std::ref(inboxes),
                         std::ref(workers[static_cast<size_t>(i)]));
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t checksum = 0;
  for (const Worker& worker : workers) checksum = bench::MixChecksum(checksum, worker.checksum);
  bench::PrintResult("threads", args, per_thread * static_cast<uint64_t>(args.threads), checksum,
                     stopwatch.Seconds());
  return 0;
}
