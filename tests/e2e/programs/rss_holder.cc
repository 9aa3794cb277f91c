// Holds known resident memory of each kind, for the RSS breakdown:
//   64 MiB of live heap     16 blocks of 4 MiB, every byte written
//   8 parked threads        each with 2 MiB of its 4 MiB stack written
//   32 MiB anonymous mmap   every page written
//
//   rss_holder hold   make everything, print "ready <pid>", wait for a line
//                     on stdin, release it all, exit 0
//   rss_holder grow   start small, sleep, make everything, sleep, exit
//                     without releasing (for `heapscope run`'s summary)
//   rss_holder fragment [N]  a heap of N small blocks (default 400,000)
//                     with every other one freed (200,000 free chunks for
//                     glibc's mallinfo2 to walk: 1 ms on one machine, 20 ms
//                     on another, as their caches hold the heap or not),
//                     held for 3 s, then exit 0
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

constexpr size_t kMiB = 1024 * 1024;
constexpr int kBlocks = 16;
constexpr size_t kBlock = 4 * kMiB;
constexpr int kThreads = 8;
constexpr size_t kStackTouched = 2 * kMiB;
constexpr size_t kMapped = 32 * kMiB;

static int g_park[2];
static volatile int g_sink;
static char* g_blocks[kBlocks];

static __attribute__((noinline)) void* ParkWithStack(void*) {
  // Write kStackTouched bytes of this thread's stack, then park.
  volatile char buf[kStackTouched];
  for (size_t i = 0; i < sizeof buf; i += 4096) buf[i] = 1;
  char c;
  if (read(g_park[0], &c, 1) != 1) return nullptr;
  g_sink = buf[sizeof buf - 1] + c;  // keeps buf live until here
  return nullptr;
}

static __attribute__((noinline)) void HoldHeap() {
  for (char*& b : g_blocks) {
    b = static_cast<char*>(malloc(kBlock));
    memset(b, 1, kBlock);
  }
}

static __attribute__((noinline)) char* MapAnon() {
  void* p = mmap(nullptr, kMapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  memset(p, 1, kMapped);
  return static_cast<char*>(p);
}

struct Held {
  pthread_t threads[kThreads];
  char* mapped;
};

static bool MakeAll(Held* h) {
  if (pipe(g_park) != 0) return false;
  HoldHeap();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 2 * kStackTouched);
  for (pthread_t& t : h->threads) {
    if (pthread_create(&t, &attr, ParkWithStack, nullptr) != 0) return false;
  }
  pthread_attr_destroy(&attr);
  h->mapped = MapAnon();
  usleep(200 * 1000);  // every thread has written its stack and parked
  return h->mapped != nullptr;
}

static void ReleaseAll(Held* h) {
  char go[kThreads];
  memset(go, 0, sizeof go);
  if (write(g_park[1], go, sizeof go) != static_cast<ssize_t>(sizeof go)) return;
  for (pthread_t t : h->threads) pthread_join(t, nullptr);
  munmap(h->mapped, kMapped);
  for (char* b : g_blocks) free(b);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "hold";
  Held h;
  if (strcmp(mode, "hold") == 0) {
    if (!MakeAll(&h)) return 2;
    printf("ready %d\n", static_cast<int>(getpid()));
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof line, stdin) == nullptr) return 3;
    ReleaseAll(&h);
    printf("done\n");
    return 0;
  }
  if (strcmp(mode, "grow") == 0) {
    usleep(400 * 1000);
    if (!MakeAll(&h)) return 2;
    usleep(400 * 1000);
    _exit(0);  // threads still parked, nothing released
  }
  if (strcmp(mode, "fragment") == 0) {
    const size_t kSmall = argc > 2 ? strtoul(argv[2], nullptr, 10) : 400000;
    if (kSmall < 2) return 2;
    auto** v = static_cast<char**>(malloc(kSmall * sizeof(char*)));
    if (v == nullptr) return 2;
    for (size_t i = 0; i < kSmall; i++) {
      v[i] = static_cast<char*>(malloc(48 + (i % 7) * 16));
      if (v[i] == nullptr) return 2;
      v[i][0] = 1;
    }
    for (size_t i = 0; i < kSmall; i += 2) free(v[i]);
    usleep(3000 * 1000);
    for (size_t i = 1; i < kSmall; i += 2) free(v[i]);
    free(v);
    printf("done\n");
    return 0;
  }
  fprintf(stderr, "usage: rss_holder hold|grow|fragment\n");
  return 2;
}
