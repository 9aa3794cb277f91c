// A program that checks it has one thread, as Chromium's zygote does
// before it forks, and stops otherwise. With HEAPSCOPE_INTERVAL=0 and
// HEAPSCOPE_DUMP_SIGNAL=0 the runtime starts no thread of its own; the
// final profile is written all the same. Prints "one thread" or "N
// threads: stopping" (exit 3). Exact totals (every allocation recorded):
//   KeptOne  4 x malloc(500), kept   2000 / 4
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

void* volatile g_kept[4];

__attribute__((noinline)) void KeptOne() {
  for (int i = 0; i < 4; i++) g_kept[i] = malloc(500);
}

int main() {
  KeptOne();
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 2;
  while (struct dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  if (n != 1) {
    printf("%d threads: stopping\n", n);
    return 3;
  }
  printf("one thread\n");
  return 0;
}
