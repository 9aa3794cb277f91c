// How long serving /debug/pprof/heap takes with 100,000 live samples over
// 10,000 distinct stacks, and how long the program's own threads are held
// up meanwhile. Run under the runtime with HEAPSCOPE_RATE=1 and
// HEAPSCOPE_HTTP=127.0.0.1:PORT (bench/http_heap_bench.sh does it):
//   http_heap_bench PORT [FETCHES]
// A worker thread mallocs and frees in a loop (every call sampled and
// recorded at rate 1), timing each pair; its latency while profiles are
// being served is compared with its latency while idle.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace {

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void* g_objects[100000];
int g_nobjects = 0;

// 10 x 10 x 10 x 10 distinct call paths: each Level<L, I> is its own
// function, so the return addresses differ for every path.
using Fn = void (*)(int);
template <int L>
struct Table {
  static Fn fns[10];
};

template <int L, int I>
__attribute__((noinline)) void Level(int code) {
  if constexpr (L == 4) {
    for (int k = 0; k < 10; k++) g_objects[g_nobjects++] = malloc(64 + I);
  } else {
    Table<L + 1>::fns[code % 10](code / 10);
  }
  asm volatile("" ::: "memory");  // not a tail call: keeps this frame
}

}  // namespace

#define FNS(L)                                                                                 \
  {                                                                                            \
    Level<L, 0>, Level<L, 1>, Level<L, 2>, Level<L, 3>, Level<L, 4>, Level<L, 5>, Level<L, 6>, \
        Level<L, 7>, Level<L, 8>, Level<L, 9>                                                  \
  }
template <>
Fn Table<1>::fns[10] = FNS(1);
template <>
Fn Table<2>::fns[10] = FNS(2);
template <>
Fn Table<3>::fns[10] = FNS(3);
template <>
Fn Table<4>::fns[10] = FNS(4);

namespace {

std::atomic<int> g_phase{0};  // 0 warm-up, 1 idle, 2 serving, 3 stop
std::vector<uint64_t> g_lat[3];

void* Worker(void*) {
  for (auto& v : g_lat) v.reserve(1 << 24);
  for (;;) {
    int phase = g_phase.load(std::memory_order_relaxed);
    if (phase == 3) break;
    uint64_t t0 = NowNs();
    void* p = malloc(48);
    asm volatile("" : : "r"(p) : "memory");
    free(p);
    uint64_t d = NowNs() - t0;
    if (phase > 0 && g_lat[phase].size() < g_lat[phase].capacity()) g_lat[phase].push_back(d);
  }
  return nullptr;
}

// GET path over a fresh connection; returns the bytes of the reply.
size_t Fetch(int port, const char* path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (write(fd, req, size_t(n)) != n) exit(1);
  static char buf[1 << 16];
  size_t total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) break;
    total += size_t(r);
  }
  close(fd);
  return total;
}

void Report(const char* label, std::vector<uint64_t>& v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  auto q = [&](double f) { return double(v[size_t(f * double(v.size() - 1))]) / 1000.0; };
  size_t over100us = size_t(v.end() - std::upper_bound(v.begin(), v.end(), uint64_t(100000)));
  printf(
      "  %-8s %9zu malloc+free pairs: p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.1f us  "
      "(>100us: %zu)\n",
      label, v.size(), q(0.5), q(0.99), q(0.999), double(v.back()) / 1000.0, over100us);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: http_heap_bench PORT [FETCHES]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int fetches = argc > 2 ? atoi(argv[2]) : 20;
  for (int code = 0; code < 10000; code++) Table<1>::fns[code % 10](code / 10);
  printf("live objects: %d from 10000 stacks\n", g_nobjects);

  pthread_t worker;
  pthread_create(&worker, nullptr, Worker, nullptr);
  // Warm-up: the first profile loads symbol tables; then idle baseline.
  size_t bytes = Fetch(port, "/debug/pprof/heap");
  usleep(200000);
  g_phase = 1;
  usleep(2000000);
  g_phase = 2;
  std::vector<double> times;
  uint64_t serve_start = NowNs();
  for (int i = 0; i < fetches; i++) {
    uint64_t t0 = NowNs();
    bytes = Fetch(port, "/debug/pprof/heap");
    times.push_back(double(NowNs() - t0) / 1e6);
  }
  double serving_s = double(NowNs() - serve_start) / 1e9;
  g_phase = 3;
  pthread_join(worker, nullptr);
  std::sort(times.begin(), times.end());
  printf(
      "/debug/pprof/heap: %d fetches, %zu bytes each: min %.1f ms  median %.1f ms  max %.1f ms\n",
      fetches, bytes, times.front(), times[times.size() / 2], times.back());
  printf("worker thread latency (idle 2 s vs. %.1f s of back-to-back heap profiles):\n", serving_s);
  Report("idle", g_lat[1]);
  Report("serving", g_lat[2]);
  for (int i = 0; i < g_nobjects; i++) free(g_objects[i]);
  return 0;
}
