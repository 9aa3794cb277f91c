// A program with its own malloc, free, calloc, realloc and
// malloc_usable_size (over an arena that aborts on a foreign block), as
// Chromium has, or a program linking an allocator statically. The runtime's
// hooks never see its allocations; the calls that do reach them (what the
// program did not define: new[], nothrow and aligned new, sized delete,
// reallocarray, and the C library's own strdup) must end in the program's
// functions, as they do without the runtime.
//
// Prints "ok live=N sum=S" (N: blocks live in its arena: 0).
#include <errno.h>

#include <new>

#include "own_arena.h"

namespace {
OwnArena g_arena;
struct alignas(64) Wide {
  long v[8];
};
}  // namespace

extern "C" {
void* malloc(size_t n) {
  void* p = g_arena.Take(n);
  if (p == nullptr) errno = ENOMEM;
  return p;
}
void free(void* p) { g_arena.Give(p, "free"); }
void* calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = malloc(total);
  if (p != nullptr) memset(p, 0, total);
  return p;
}
void* realloc(void* p, size_t n) {
  if (p == nullptr) return malloc(n);
  if (!g_arena.Owns(p)) {
    fprintf(stderr, "realloc: %p is not a block of this program's arena\n", p);
    abort();
  }
  void* q = malloc(n);
  if (q == nullptr) return nullptr;
  size_t old = g_arena.SizeOf(p);
  memcpy(q, p, old < n ? old : n);
  free(p);
  return q;
}
size_t malloc_usable_size(void* p) { return p == nullptr ? 0 : g_arena.SizeOf(p); }
}

int main() {
  long base = g_arena.live;  // what the C library kept before main
  long sum = 0;
  for (int i = 0; i < 100; i++) {
    long* arr = new long[4];
    arr[3] = i;
    sum += arr[3];
    delete[] arr;
    long* one = new long(i);
    sum += *one;
    delete one;  // sized
    long* t = new (std::nothrow) long[2];
    t[1] = 1;
    sum += t[1];
    delete[] t;
    Wide* w = new Wide{{i}};
    sum += w->v[0];
    delete w;  // aligned, sized
    void* r = malloc(16);
    r = reallocarray(r, 8, 8);
    sum += r != nullptr ? 1 : 0;
    free(r);
    char* s = strdup("own allocator");
    sum += static_cast<long>(strlen(s));
    free(s);
  }
  printf("ok live=%ld sum=%ld\n", g_arena.live - base, sum);
  return 0;
}
