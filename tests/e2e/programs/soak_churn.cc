// A churning multi-threaded program for the soak test (test_soak.py):
// kWorkers threads allocate mixed sizes through the whole malloc family and
// operator new, hand blocks to each other through a shared exchange (so
// most frees happen on another thread), verify every block's contents
// before freeing it, and leak one small block per round; a spawner thread
// starts short-lived threads that allocate and exit, all the time.
//
// Usage: soak_churn SECONDS. Each worker runs at least kDigestRounds rounds
// and then goes on until SECONDS have passed. stdout is the same for any
// SECONDS and any scheduling: a digest of the first kDigestRounds rounds'
// allocations (chosen by a per-thread PRNG, never by timing) and the
// number of corrupted blocks seen (0). stderr gets one line with the
// rounds done, which depends on time.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <new>

namespace {

constexpr int kWorkers = 4;
constexpr int kDigestRounds = 40;
constexpr int kOpsPerRound = 1500;
constexpr int kLocalSlots = 64;
constexpr int kExchangeSlots = 256;
constexpr long kMaxLeaks = 1 << 22;  // about 600 MB at most, in a long soak
constexpr uint64_t kMagic = 0x50a4c4a1b10c5eedULL;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Rng {
  uint64_t s;
  uint64_t Next() { return s = SplitMix(s); }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

enum class Kind : uint32_t { kMalloc, kCalloc, kNew, kMemalign, kAligned };

// Every block starts with this header; its first and last bytes past the
// header follow from `seed`, so any thread can check a block it receives.
struct Header {
  uint64_t magic;
  uint64_t seed;
  uint64_t size;  // whole block, header included
  Kind kind;
  uint32_t pad;
};

struct Block {
  Header* h;
};

std::atomic<long> g_corrupt{0};
std::atomic<bool> g_stop{false};

uint8_t Pattern(uint64_t seed, size_t i) { return static_cast<uint8_t>(SplitMix(seed + i / 64) >> (i % 8 * 8)); }

constexpr size_t kChecked = 64;  // bytes checked at each end of the body

void Fill(Header* h) {
  uint8_t* body = reinterpret_cast<uint8_t*>(h + 1);
  size_t n = h->size - sizeof(Header);
  size_t head = n < kChecked ? n : kChecked;
  for (size_t i = 0; i < head; i++) body[i] = Pattern(h->seed, i);
  for (size_t i = n > kChecked ? n - kChecked : head; i < n; i++) body[i] = Pattern(h->seed, i);
}

bool Intact(const Header* h, size_t valid) {
  if (h->magic != kMagic) return false;
  const uint8_t* body = reinterpret_cast<const uint8_t*>(h + 1);
  size_t n = valid - sizeof(Header);
  size_t head = n < kChecked ? n : kChecked;
  for (size_t i = 0; i < head; i++) {
    if (body[i] != Pattern(h->seed, i)) return false;
  }
  if (valid == h->size) {
    for (size_t i = n > kChecked ? n - kChecked : head; i < n; i++) {
      if (body[i] != Pattern(h->seed, i)) return false;
    }
  }
  return true;
}

size_t PickSize(Rng& rng) {
  uint64_t r = rng.Below(1000);
  if (r < 700) return sizeof(Header) + 16 + rng.Below(240);
  if (r < 950) return sizeof(Header) + 256 + rng.Below(16 * 1024);
  if (r < 999) return sizeof(Header) + 16 * 1024 + rng.Below(240 * 1024);
  return sizeof(Header) + (1 << 20) + rng.Below(3 << 20);
}

__attribute__((noinline)) Header* AllocBlock(uint64_t seed, size_t size, Kind kind) {
  void* p = nullptr;
  switch (kind) {
    case Kind::kMalloc: p = malloc(size); break;
    case Kind::kCalloc: p = calloc(1, size); break;
    case Kind::kNew: p = new char[size]; break;
    case Kind::kMemalign:
      if (posix_memalign(&p, 64, size) != 0) p = nullptr;
      break;
    case Kind::kAligned: p = aligned_alloc(256, (size + 255) / 256 * 256); break;
  }
  if (p == nullptr) abort();
  Header* h = static_cast<Header*>(p);
  *h = Header{kMagic, seed, size, kind, 0};
  Fill(h);
  return h;
}

__attribute__((noinline)) void FreeBlock(Header* h) {
  if (!Intact(h, h->size)) g_corrupt.fetch_add(1);
  Kind kind = h->kind;
  h->magic = 0;
  if (kind == Kind::kNew) {
    delete[] reinterpret_cast<char*>(h);
  } else {
    free(h);
  }
}

// realloc keeps the prefix: check it, then refill for the new size.
__attribute__((noinline)) Header* ResizeBlock(Header* h, size_t size) {
  if (h->kind == Kind::kNew) return h;  // not from malloc
  size_t keep = h->size < size ? h->size : size;
  void* q = realloc(h, size);
  if (q == nullptr) abort();
  Header* n = static_cast<Header*>(q);
  if (!Intact(n, keep < n->size ? keep : n->size)) g_corrupt.fetch_add(1);
  n->size = size;
  n->kind = Kind::kMalloc;
  Fill(n);
  return n;
}

// Blocks in flight between threads.
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
Header* g_exchange[kExchangeSlots];
int g_exchange_count = 0;

bool Offer(Header* h) {
  pthread_mutex_lock(&g_mu);
  bool ok = g_exchange_count < kExchangeSlots;
  if (ok) g_exchange[g_exchange_count++] = h;
  pthread_mutex_unlock(&g_mu);
  return ok;
}

Header* Take() {
  pthread_mutex_lock(&g_mu);
  Header* h = g_exchange_count > 0 ? g_exchange[--g_exchange_count] : nullptr;
  pthread_mutex_unlock(&g_mu);
  return h;
}

// Leaked on purpose: one small block per worker round.
pthread_mutex_t g_leak_mu = PTHREAD_MUTEX_INITIALIZER;
void** g_leaks;
long g_leak_count = 0;
long g_leak_bytes = 0;

__attribute__((noinline)) void LeakBlock(uint64_t seed, size_t size) {
  void* p = malloc(size);
  memset(p, static_cast<int>(seed), size);
  pthread_mutex_lock(&g_leak_mu);
  if (g_leak_count < kMaxLeaks) {
    g_leaks[g_leak_count++] = p;
    g_leak_bytes += static_cast<long>(size);
    p = nullptr;
  }
  pthread_mutex_unlock(&g_leak_mu);
  free(p);
}

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double g_deadline;

struct Worker {
  int id;
  uint64_t digest = 0;
  long rounds = 0;
};

void Round(Worker* w, long round) {
  Rng rng{SplitMix((static_cast<uint64_t>(w->id) << 40) ^ static_cast<uint64_t>(round))};
  Header* local[kLocalSlots] = {};
  for (int op = 0; op < kOpsPerRound; op++) {
    uint64_t choice = rng.Below(100);
    int slot = static_cast<int>(rng.Below(kLocalSlots));
    if (choice < 45) {
      uint64_t seed = rng.Next();
      size_t size = PickSize(rng);
      Kind kind = static_cast<Kind>(rng.Below(5));
      if (round < kDigestRounds) w->digest = SplitMix(w->digest ^ seed ^ size ^ static_cast<uint64_t>(kind));
      if (local[slot] != nullptr) FreeBlock(local[slot]);
      local[slot] = AllocBlock(seed, size, kind);
    } else if (choice < 60) {
      if (local[slot] != nullptr) {
        FreeBlock(local[slot]);
        local[slot] = nullptr;
      }
    } else if (choice < 70) {
      size_t size = PickSize(rng);
      if (round < kDigestRounds) w->digest = SplitMix(w->digest ^ size);
      if (local[slot] != nullptr) local[slot] = ResizeBlock(local[slot], size);
    } else if (choice < 85) {
      if (local[slot] != nullptr && Offer(local[slot])) local[slot] = nullptr;
    } else {
      Header* h = Take();
      if (h != nullptr) FreeBlock(h);
    }
  }
  for (Header*& h : local) {
    if (h != nullptr) FreeBlock(h);
    h = nullptr;
  }
  uint64_t seed = rng.Next();
  size_t leak = 32 + rng.Below(224);
  if (round < kDigestRounds) w->digest = SplitMix(w->digest ^ leak);
  LeakBlock(seed, leak);
}

void* WorkerMain(void* arg) {
  Worker* w = static_cast<Worker*>(arg);
  for (long r = 0; r < kDigestRounds || Now() < g_deadline; r++) {
    Round(w, r);
    w->rounds = r + 1;
  }
  return nullptr;
}

__attribute__((noinline)) void* ShortLived(void* arg) {
  Rng rng{reinterpret_cast<uintptr_t>(arg)};
  void* mine[32];
  for (int i = 0; i < 200; i++) {
    int slot = i % 32;
    if (i >= 32) free(mine[slot]);
    mine[slot] = malloc(16 + rng.Below(2000));
  }
  for (void* p : mine) free(p);
  return nullptr;
}

void* SpawnerMain(void* arg) {
  long* spawned = static_cast<long*>(arg);
  while (!g_stop.load()) {
    pthread_t t;
    if (pthread_create(&t, nullptr, ShortLived, reinterpret_cast<void*>(*spawned + 1)) == 0) {
      pthread_join(t, nullptr);
      ++*spawned;
    }
    timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 0;
  g_deadline = Now() + seconds;
  g_leaks = static_cast<void**>(calloc(kMaxLeaks, sizeof(void*)));
  Worker workers[kWorkers];
  pthread_t threads[kWorkers], spawner;
  long spawned = 0;
  pthread_create(&spawner, nullptr, SpawnerMain, &spawned);
  for (int i = 0; i < kWorkers; i++) {
    workers[i].id = i;
    pthread_create(&threads[i], nullptr, WorkerMain, &workers[i]);
  }
  long rounds = 0;
  uint64_t digest = 0;
  for (int i = 0; i < kWorkers; i++) {
    pthread_join(threads[i], nullptr);
    rounds += workers[i].rounds;
    digest = SplitMix(digest ^ workers[i].digest);
  }
  g_stop.store(true);
  pthread_join(spawner, nullptr);
  while (Header* h = Take()) FreeBlock(h);
  printf("soak: workers=%d digest=%016llx corrupt=%ld\n", kWorkers,
         static_cast<unsigned long long>(digest), g_corrupt.load());
  fprintf(stderr, "soak: rounds=%ld leaked=%ld leaked_bytes=%ld short_lived_threads=%ld\n", rounds,
          g_leak_count, g_leak_bytes, spawned);
  return g_corrupt.load() == 0 ? 0 : 1;
}
