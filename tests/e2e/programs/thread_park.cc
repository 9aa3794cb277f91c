// A program for the thread-stack and CPU-profile endpoints: named threads
// parked in known functions (a condition variable, a pipe read, a poll
// that a signal handler would break with EINTR, one with every signal
// blocked), one spinning in a known function, and on request
// a thread started later that spins too. Commands on stdin: "late" starts
// the late spinner, "quit" releases everything. Its stdout is
// deterministic, and says so if a parked call ever fails with EINTR.
//   --own-sigprof  installs its own SIGPROF handler
//   --own-rt6      installs its own handler on SIGRTMIN+6
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static bool g_release = false;
static std::atomic<bool> g_stop{false};
static std::atomic<int> g_parked{0};
static int g_pipe[2];
static int g_poll_pipe[2];
static volatile uint64_t g_sink;

__attribute__((noinline)) void ParkOnCondition() {
  pthread_mutex_lock(&g_mu);
  g_parked++;
  while (!g_release) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void ParkInPipeRead() {
  char buf[16];
  g_parked++;
  ssize_t n = read(g_pipe[0], buf, sizeof buf);
  if (n < 0) printf("read failed: %s\n", strerror(errno));
  asm volatile("" ::: "memory");
}

// poll is never restarted after a handler ran (SA_RESTART or not): asking
// this thread for its stack with a signal would make it fail with EINTR.
__attribute__((noinline)) void ParkInPoll() {
  struct pollfd p = {g_poll_pipe[0], POLLIN, 0};
  g_parked++;
  int n = poll(&p, 1, -1);
  if (n < 0) printf("poll failed: %s\n", strerror(errno));
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void ParkWithSignalsBlocked() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  ParkOnCondition();
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) uint64_t SpinHotLoop() {
  uint64_t x = 1;
  g_parked++;
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    g_sink = x;
  }
  return x;
}

__attribute__((noinline)) uint64_t SpinLateThread() {
  uint64_t x = 3;
  struct timespec t0, t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  do {
    for (int i = 0; i < 100000; i++) x = x * 2862933555777941757ULL + 3037000493ULL;
    g_sink = x;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 600000000L);
  return x;
}

static void* CondMain(void*) {
  pthread_setname_np(pthread_self(), "park-cond");
  ParkOnCondition();
  return nullptr;
}
static void* ReadMain(void*) {
  pthread_setname_np(pthread_self(), "park-read");
  ParkInPipeRead();
  return nullptr;
}
static void* PollMain(void*) {
  pthread_setname_np(pthread_self(), "park-poll");
  ParkInPoll();
  return nullptr;
}
static void* BlockedMain(void*) {
  pthread_setname_np(pthread_self(), "park-blocked");
  ParkWithSignalsBlocked();
  return nullptr;
}
static void* SpinMain(void*) {
  pthread_setname_np(pthread_self(), "spin-hot");
  SpinHotLoop();
  return nullptr;
}
static void* LateMain(void*) {
  pthread_setname_np(pthread_self(), "spin-late");
  SpinLateThread();
  return nullptr;
}

static void OwnHandler(int) {}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--own-sigprof") == 0) signal(SIGPROF, OwnHandler);
    if (strcmp(argv[i], "--own-rt6") == 0) signal(SIGRTMIN + 6, OwnHandler);
  }
  if (pipe(g_pipe) != 0 || pipe(g_poll_pipe) != 0) return 1;
  pthread_t t[5];
  pthread_create(&t[0], nullptr, CondMain, nullptr);
  pthread_create(&t[1], nullptr, ReadMain, nullptr);
  pthread_create(&t[2], nullptr, BlockedMain, nullptr);
  pthread_create(&t[3], nullptr, SpinMain, nullptr);
  pthread_create(&t[4], nullptr, PollMain, nullptr);
  while (g_parked.load() < 5) usleep(1000);
  usleep(50000);  // into their waits
  printf("ready\n");
  fflush(stdout);
  pthread_t late{};
  bool have_late = false;
  char line[64];
  while (fgets(line, sizeof line, stdin) != nullptr) {
    if (strncmp(line, "quit", 4) == 0) break;
    if (strncmp(line, "late", 4) == 0 && !have_late) {
      have_late = pthread_create(&late, nullptr, LateMain, nullptr) == 0;
      printf("late started\n");
      fflush(stdout);
    }
  }
  if (ferror(stdin)) printf("stdin failed: %s\n", strerror(errno));
  g_stop.store(true);
  pthread_mutex_lock(&g_mu);
  g_release = true;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  if (write(g_pipe[1], "bye", 3) != 3) printf("write failed\n");
  if (write(g_poll_pipe[1], "bye", 3) != 3) printf("write failed\n");
  for (pthread_t x : t) pthread_join(x, nullptr);
  if (have_late) pthread_join(late, nullptr);
  printf("all threads done\n");
  return 0;
}
