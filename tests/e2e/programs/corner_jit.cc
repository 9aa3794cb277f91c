// A program with a JIT, as the JVM and Node.js are: it writes machine code
// into an executable mapping of its own (no file behind it) and calls it;
// the code calls JitAlloc, which allocates. Like such runtimes it lists
// its code in /tmp/perf-PID.map ("START SIZE NAME", perf's convention),
// here at the end of the run, as the JVM does at exit, so the periodic
// snapshots see the code unnamed and the final profile named. x86-64 only.
//   JitAlloc  40 x malloc(50000) through "JS:handleRequest app.js:12",
//             every 30 ms, kept (a leak through JIT code)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void* g_kept[40];

extern "C" __attribute__((noinline)) void* JitAlloc(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 3, n);
  return p;
}

int main() {
#if defined(__x86_64__)
  // push rbp; mov rbp, rsp; mov rax, imm64; call rax; pop rbp; ret
  unsigned char code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
                          0xff, 0xd0, 0x5d, 0xc3};
  void* target = reinterpret_cast<void*>(&JitAlloc);
  memcpy(code + 6, &target, sizeof target);
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 1;
  // Somewhere inside the page, as a JIT places code.
  unsigned char* fn = static_cast<unsigned char*>(page) + 0x240;
  memcpy(fn, code, sizeof code);
  if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0) return 1;
  auto call = reinterpret_cast<void* (*)(size_t)>(fn);
  char map[64];
  snprintf(map, sizeof map, "/tmp/perf-%d.map", static_cast<int>(getpid()));
  for (int i = 0; i < 40; i++) {
    g_kept[i] = call(50000);
    timespec t = {0, 30 * 1000000L};
    nanosleep(&t, nullptr);
  }
  // Three snapshot intervals (50 ms in the test) with all 40 in use: the
  // leak report judges the running program by its last periodic snapshot,
  // which must not come before the last allocation.
  timespec settle = {0, 150 * 1000000L};
  nanosleep(&settle, nullptr);
  // At the end, as the JVM writes its map at exit: the periodic snapshots
  // saw the code unnamed, the final profile names it.
  FILE* f = fopen(map, "w");
  if (f == nullptr) return 1;
  // A trampoline's entry before it, and an entry that a later one replaces.
  fprintf(f, "%lx 40 Builtin:InterpreterEntryTrampoline\n", reinterpret_cast<unsigned long>(page));
  fprintf(f, "0x%lx 0x%zx JS:oldHandler app.js:3\n", reinterpret_cast<unsigned long>(fn),
          sizeof code);
  fprintf(f, "0x%lx 0x%zx JS:handleRequest app.js:12\n", reinterpret_cast<unsigned long>(fn),
          sizeof code);
  fprintf(f, "not a line of a perf map\n");
  fclose(f);
  printf("done\n");
  return 0;
#else
  printf("not x86-64\n");
  return 0;
#endif
}
