// Another allocator in front of the runtime: built once plainly (run with
// tcmalloc preloaded ahead of libheapscope.so) and once with jemalloc
// linked statically into the executable. The program checks its own
// memory and prints a checksum; heapscope's hooks are shadowed in both
// cases (see test_corners.py).
// Allocations (every one recorded if the runtime sees them):
//   ForeignAlloc    1000 x malloc(1000), each passed to realloc
//                                                        0 / 1000000 bytes,   0 / 1000
//   ForeignRealloc  1000 x realloc(p, 1000), 100 kept  100000 / 1000000 bytes, 100 / 1000
//   ForeignNew      1000 x new char[200], all deleted      0 /  200000 bytes,   0 / 1000
//   ForeignLarge    1 x malloc(8 MiB), kept          8388608 / 8388608 bytes,   1 / 1
// (an allocator behind the hooks maps memory for the last one), and one
// anonymous mapping of its own, KeepAMapping, 64 KiB, kept.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void* volatile g_kept[100];
void* volatile g_large;
void* volatile g_mapping;

// Not tail calls, so that each function keeps its frame in the stacks.
__attribute__((noinline)) void* ForeignAlloc(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* ForeignRealloc(void* old, size_t n) {
  void* p = realloc(old, n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) char* ForeignNew(size_t n) {
  char* p = new char[n];
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* ForeignLarge(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* KeepAMapping(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

int main() {
  unsigned long sum = 0;
  for (int i = 0; i < 1000; i++) {
    unsigned char* p = static_cast<unsigned char*>(ForeignAlloc(1000));
    memset(p, i & 0xff, 1000);
    char* q = ForeignNew(200);
    memset(q, 1, 200);
    char* s = strdup("foreign allocator");
    p = static_cast<unsigned char*>(ForeignRealloc(p, 1000));
    sum += p[999] + static_cast<unsigned long>(strlen(s)) + static_cast<unsigned long>(q[199]);
    free(s);
    delete[] q;
    if (i % 10 == 0) {
      g_kept[i / 10] = p;
    } else {
      free(p);
    }
  }
  g_large = ForeignLarge(8 << 20);
  memset(g_large, 1, 8 << 20);
  g_mapping = KeepAMapping(64 << 10);
  if (g_mapping == MAP_FAILED) return 2;
  memset(g_mapping, 1, 64 << 10);
  printf("checksum %lu\n", sum);
  return 0;
}
