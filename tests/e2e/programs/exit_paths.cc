// Ends in every way a program can end, after known allocations.
// Usage: exit_paths MODE   (return, exit3, _exit4, _Exit5, thread-exit6,
//                           busy-return, quick_exit7, main-pthread_exit,
//                           main-cancelled, fork-thread-return, fsize0-exit3)
// fsize0-exit3: sets the file size limit to 0 (as OpenSSH's sandboxed
// pre-authentication child does), then exit(3).
// main-pthread_exit: the main thread calls pthread_exit; a second thread
// ends 100 ms later, and with it the process (glibc's exit(0) after the
// last thread). main-cancelled: the second thread cancels the main thread
// (waiting in pthread_join), then ends 300 ms later.
// Allocations (bytes, objects):
//   KeptAlloc        4 x malloc(2500), never freed          10000, 4
//   AtexitFreedAlloc malloc(1234), freed by an atexit handler
//   StaticFreedAlloc malloc(4321), freed by a static object's destructor
//   AtexitAlloc      malloc(777) made inside the atexit handler, kept
// The atexit handler and the destructor run on return/exit, not on
// _exit/_Exit/quick_exit.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

void* volatile g_kept[4];
void* volatile g_atexit_block;
void* volatile g_atexit_new;
void* volatile g_busy_sink;

__attribute__((noinline)) void KeptAlloc() {
  for (int i = 0; i < 4; i++) g_kept[i] = malloc(2500);
}

__attribute__((noinline)) void AtexitFreedAlloc() { g_atexit_block = malloc(1234); }

__attribute__((noinline)) void AtexitAlloc() { g_atexit_new = malloc(777); }

__attribute__((noinline)) void* StaticFreedAlloc() {
  void* p = malloc(4321);
  memset(p, 3, 4321);
  return p;
}

struct StaticHolder {
  void* block = nullptr;
  ~StaticHolder() {
    free(block);
    std::printf("static destructor ran\n");
    std::fflush(stdout);
  }
};
StaticHolder g_holder;

void AtexitHandler() {
  free(g_atexit_block);
  AtexitAlloc();
  std::printf("atexit handler ran\n");
  std::fflush(stdout);
}

void QuickExitHandler() {
  std::printf("at_quick_exit handler ran\n");
  std::fflush(stdout);
}

void* ExitFromThread(void*) {
  std::printf("exit from a second thread\n");
  std::fflush(stdout);
  exit(6);
}

__attribute__((noinline)) void* BusyChurn(void*) {
  for (unsigned i = 0;; i++) {
    void* p = malloc(32 + i % 2000);
    g_busy_sink = p;
    free(p);
  }
  return nullptr;
}

void* EndLater(void*) {
  usleep(100000);
  std::printf("the last thread ends\n");
  std::fflush(stdout);
  return nullptr;
}

pthread_t g_main_thread;

// In the child, the forking thread is the only one, and it returns from
// its start routine: glibc ends the process with exit(0) as for any last
// thread. The parent waits for the child, then returns from main.
void* ForkFromThread(void*) {
  pid_t pid = fork();
  if (pid == 0) return nullptr;
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("the child ended: %s %d\n", WIFEXITED(status) ? "status" : "signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  std::fflush(stdout);
  return nullptr;
}

void* CancelMain(void*) {
  usleep(50000);
  pthread_cancel(g_main_thread);
  usleep(300000);
  std::printf("the last thread ends\n");
  std::fflush(stdout);
  return nullptr;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "return";
  atexit(AtexitHandler);
  at_quick_exit(QuickExitHandler);
  KeptAlloc();
  AtexitFreedAlloc();
  g_holder.block = StaticFreedAlloc();
  std::printf("exit_paths: %s\n", mode);
  std::fflush(stdout);
  if (strcmp(mode, "return") == 0) return 0;
  if (strcmp(mode, "exit3") == 0) exit(3);
  if (strcmp(mode, "fsize0-exit3") == 0) {
    std::fflush(stdout);
    struct rlimit zero = {0, 0};
    setrlimit(RLIMIT_FSIZE, &zero);
    exit(3);
  }
  if (strcmp(mode, "_exit4") == 0) _exit(4);
  if (strcmp(mode, "_Exit5") == 0) _Exit(5);
  if (strcmp(mode, "quick_exit7") == 0) quick_exit(7);
  if (strcmp(mode, "thread-exit6") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, ExitFromThread, nullptr);
    pthread_join(t, nullptr);
    return 1;  // not reached: the thread's exit(6) ends the process
  }
  if (strcmp(mode, "busy-return") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, BusyChurn, nullptr);
    pthread_detach(t);
    usleep(20000);
    return 0;
  }
  if (strcmp(mode, "main-pthread_exit") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, EndLater, nullptr);
    pthread_exit(nullptr);
  }
  if (strcmp(mode, "fork-thread-return") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, ForkFromThread, nullptr);
    pthread_join(t, nullptr);
    return 0;
  }
  if (strcmp(mode, "main-cancelled") == 0) {
    g_main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, nullptr, CancelMain, nullptr);
    pthread_join(t, nullptr);
    return 1;  // not reached: cancelled while it waits
  }
  std::fprintf(stderr, "exit_paths: unknown mode %s\n", mode);
  return 2;
}
