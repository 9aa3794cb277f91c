// leak_scenarios SECONDS [SLOW_LEAK_BYTES_PER_SEC]: leaks next to things
// that only look like leaks, for `heapscope leaks` (test_leaks.py). Each
// behaviour lives in its own noinline function so its stacks are its own.
//
// Leaks (must be "growing"):
//   LeakIntoUnboundedCache   an std::unordered_map cache nobody evicts, ~1 MB/s
//   LeakListener             std::function listeners with captured 16 KB
//                            buffers, registered and never unregistered, ~1.3 MB/s
//   LeakSlowly               256-byte records kept forever at
//                            SLOW_LEAK_BYTES_PER_SEC (default 250000)
//   LeakFileDescriptor       opens /dev/null 5 times a second, never closes
//   ParkThreadForever        a thread a second, blocked forever on a
//                            condition variable nobody signals
//   LeakMapping              a 64 KiB anonymous mapping twice a second,
//                            never unmapped
// Decoys (must not be "growing"):
//   FillBoundedLru           an LRU of 8 MB that fills in ~3 s, then churns
//   BuildReportBurst         40 MB built every 5 s, freed 1.5 s later
//   BuildStartupTable        30 MB built once at start, kept
//   ChurnRequests            ~40 MB/s of short-lived buffers
//   ReadConfigFile           opens and closes a file 20 times a second
//   StartWorkerPool          4 threads started at start, alive to the end
//   RunShortTask             a thread a second that ends at once
//   MapScratchBuffer         a 1 MiB mapping 10 times a second, unmapped at once
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#define NOINLINE __attribute__((noinline))

namespace {

std::unordered_map<uint64_t, std::string>* unbounded_cache;
std::vector<std::function<size_t()>>* listeners;
std::vector<char*>* slow_records;
std::vector<std::string>* startup_table;
volatile size_t sink;

NOINLINE void LeakIntoUnboundedCache(uint64_t key) {
  (*unbounded_cache)[key] = std::string(1000, static_cast<char>('a' + key % 26));
}

NOINLINE void LeakListener(size_t id) {
  std::vector<char> buffer(16384, static_cast<char>(id));
  listeners->push_back([buffer = std::move(buffer)] { return buffer.size(); });
}

NOINLINE void LeakSlowly() {
  char* record = static_cast<char*>(std::malloc(256));
  std::memset(record, 1, 256);
  slow_records->push_back(record);
}

std::vector<int>* leaked_fds;
std::vector<void*>* leaked_maps;

NOINLINE void LeakMapping() {
  void* p = mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) leaked_maps->push_back(p);
}

NOINLINE void MapScratchBuffer() {
  const size_t size = 1 << 20;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  static_cast<char*>(p)[0] = 1;
  munmap(p, size);
}

NOINLINE void LeakFileDescriptor() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) leaked_fds->push_back(fd);
}

std::mutex park_mutex;
// Never signalled, never destroyed (destroying a condition variable with
// waiters blocks in glibc).
std::condition_variable* park_cv = new std::condition_variable();
std::atomic<bool> pool_stop{false};

NOINLINE void ParkThreadForever() {
  std::thread([] {
    std::unique_lock<std::mutex> lock(park_mutex);
    park_cv->wait(lock, [] { return false; });
  }).detach();
}

NOINLINE void ReadConfigFile() {
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[64];
  sink = sink + static_cast<size_t>(read(fd, buf, sizeof buf) > 0);
  close(fd);
}

NOINLINE std::vector<std::thread> StartWorkerPool() {
  std::vector<std::thread> pool;
  for (int i = 0; i < 4; i++) {
    pool.emplace_back([] {
      while (!pool_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
  }
  return pool;
}

NOINLINE void RunShortTask() {
  std::thread([] { sink = sink + 1; }).join();
}

class BoundedLru {
 public:
  explicit BoundedLru(size_t capacity) : capacity_(capacity) {}
  NOINLINE void Put(uint64_t key) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
    order_.push_front({key, std::string(2000, 'x')});
    index_[key] = order_.begin();
    while (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  size_t capacity_;
  std::list<std::pair<uint64_t, std::string>> order_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, std::string>>::iterator> index_;
};

NOINLINE void FillBoundedLru(BoundedLru* lru, uint64_t key) { lru->Put(key); }

NOINLINE std::vector<std::unique_ptr<char[]>> BuildReportBurst() {
  std::vector<std::unique_ptr<char[]>> chunks;
  for (int i = 0; i < 640; i++) {  // 640 * 64 KB = 40 MB
    chunks.emplace_back(new char[65536]);
    std::memset(chunks.back().get(), i, 65536);
  }
  return chunks;
}

NOINLINE void BuildStartupTable() {
  startup_table = new std::vector<std::string>();
  for (int i = 0; i < 30000; i++) startup_table->emplace_back(1000, static_cast<char>(i));
}

NOINLINE void ChurnRequests(uint64_t tick) {
  std::vector<std::unique_ptr<char[]>> bufs;
  for (int i = 0; i < 100; i++) {
    size_t size = 100 + (tick * 7919 + static_cast<uint64_t>(i) * 104729) % 8000;
    bufs.emplace_back(new char[size]);
    bufs.back()[0] = static_cast<char>(i);
    sink = sink + static_cast<size_t>(bufs.back()[0]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 20;
  double slow_rate = argc > 2 ? std::atof(argv[2]) : 250000;
  unbounded_cache = new std::unordered_map<uint64_t, std::string>();
  listeners = new std::vector<std::function<size_t()>>();
  slow_records = new std::vector<char*>();
  leaked_fds = new std::vector<int>();
  leaked_maps = new std::vector<void*>();
  auto* lru = new BoundedLru(4000);  // 4000 * ~2 KB = 8 MB
  BuildStartupTable();
  std::vector<std::thread> pool = StartWorkerPool();

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto tick_len = std::chrono::milliseconds(10);
  std::vector<std::unique_ptr<char[]>> burst;
  // The leaks keep to the clock, not to the ticks: on a loaded machine the
  // ticks run late, and a leak that slowed down with them would be slower
  // than the tests say (each is as many calls as are due by time t).
  auto due = [](double per_sec, double t, double offset = 0) {
    return static_cast<uint64_t>(per_sec * t + offset);
  };
  uint64_t cache_keys = 0, listener_ids = 0, slow_done = 0, fds = 0, parked = 0, maps = 0;
  uint64_t lru_key = 0;
  for (uint64_t tick = 0;; tick++) {
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    if (t >= seconds) break;
    while (cache_keys < due(1000, t, 10)) LeakIntoUnboundedCache(cache_keys++);
    while (listener_ids < due(250.0 / 3, t, 2)) LeakListener(listener_ids++);
    // LRU: 14 puts per tick (~2.8 MB/s): full after ~3 s, then every put
    // evicts one entry. Its fill keeps to the clock too (full at 3 s
    // whatever the tick rate), so the decoy stays a cache that filled early
    // rather than one still filling late in a short run.
    const uint64_t lru_due = t >= 3 ? 4000 : static_cast<uint64_t>(4000 * t / 3);
    const uint64_t puts = std::max<uint64_t>(14, lru_due > lru_key ? lru_due - lru_key : 0);
    const bool was_full = lru_key >= 4000;
    for (uint64_t i = 0; i < puts; i++) FillBoundedLru(lru, lru_key++);
    if (!was_full && lru_key >= 4000) std::fprintf(stderr, "leak_scenarios: bounded LRU full\n");
    while (slow_done < due(slow_rate / 256, t)) {
      LeakSlowly();
      slow_done++;
    }
    const double phase = std::fmod(t, 5.0);
    if (phase >= 2.0 && phase < 3.5) {
      if (burst.empty()) burst = BuildReportBurst();
    } else {
      burst.clear();
    }
    ChurnRequests(tick);
    while (fds < due(5, t, 1)) {
      LeakFileDescriptor();
      fds++;
    }
    if (tick % 5 == 0) ReadConfigFile();
    while (parked < due(1, t, 0.5)) {
      ParkThreadForever();
      parked++;
    }
    if (tick % 100 == 0) RunShortTask();
    while (maps < due(2, t, 0.5)) {
      LeakMapping();
      maps++;
    }
    if (tick % 10 == 3) MapScratchBuffer();
    std::this_thread::sleep_until(start + tick_len * (tick + 1));
  }
  burst.clear();
  pool_stop.store(true);
  for (auto& t : pool) t.join();
  return static_cast<int>(sink & 0);  // Parked threads stay blocked.
}
