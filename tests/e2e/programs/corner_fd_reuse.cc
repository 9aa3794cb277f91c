// A program that, like a daemon (or Chromium before it execs its zygote),
// closes every descriptor above stderr and then passes messages on a
// socketpair it makes, reusing the low numbers. Meanwhile a signal
// handler allocates while the main thread is in code without unwind
// tables, so a profiler walking that stack must fall back to
// frame-pointer walking with address validation (libunwind tests each
// address through a pipe of its own). The runtime's pipe must never be
// one of the program's descriptors: every message arrives intact. (With
// libunwind's pipe left at the low numbers, 199 of 200 messages were
// damaged: its reads took them.) Exit 0 when all arrived, 1 otherwise.
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

extern "C" {
volatile int g_flag = 0;
void SpinWithoutCfi();
}

// A loop with a frame pointer but no CFI: unwinders must validate.
asm(R"(
  .text
  .globl SpinWithoutCfi
  .type SpinWithoutCfi, @function
SpinWithoutCfi:
  push %rbp
  mov %rsp, %rbp
1:
  pause
  cmpl $0, g_flag(%rip)
  je 1b
  pop %rbp
  ret
  .size SpinWithoutCfi, .-SpinWithoutCfi
)");

void* volatile g_sink;

__attribute__((noinline)) void AllocInHandler() {
  void* p = malloc(100);
  g_sink = p;
  free(p);
}

void OnSignal(int) {
  AllocInHandler();
  g_flag = 1;
}

pthread_t g_main;

void* Poker(void*) {
  for (;;) {
    pthread_kill(g_main, SIGUSR2);
    usleep(1000);
  }
  return nullptr;
}

__attribute__((noinline)) void Spin() {
  g_flag = 0;
  SpinWithoutCfi();
}

// Spins outside unwind tables until the handler has run there, each time
// on another stack page (unwinders remember the pages they validated).
__attribute__((noinline)) void InterruptedWithoutCfi(int round) {
  size_t bytes = 4096 * static_cast<size_t>(1 + round % 32);
  volatile char* pad = static_cast<volatile char*>(alloca(bytes));
  pad[0] = 0;
  Spin();
  pad[0] = 1;
}

int main() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigaction(SIGUSR2, &sa, nullptr);
  g_main = pthread_self();
  pthread_t t;
  pthread_create(&t, nullptr, Poker, nullptr);
  InterruptedWithoutCfi(0);  // the profiler's pipe, if any, is open from here
  // Close everything past stderr, as daemons do.
  for (int fd = 3; fd < 1024; fd++) close(fd);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 2;
  int bad = 0;
  for (int i = 0; i < 200; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof msg, "message %d", i);
    if (write(sv[1], msg, static_cast<size_t>(len)) != len) bad++;
    InterruptedWithoutCfi(i + 1);  // the handler allocates while the message waits
    char got[64];
    ssize_t n = read(sv[0], got, sizeof got);
    if (n != len || memcmp(got, msg, static_cast<size_t>(len)) != 0) bad++;
  }
  printf("socketpair fds %d %d, %d of 200 messages damaged\n", sv[0], sv[1], bad);
  return bad == 0 ? 0 : 1;
}
