// A program with its own global operator new(size_t) and operator
// delete(void*), and no other form, as many programs have (to count or
// pool their objects). Every other form the compiler or the C++ library
// emits (sized delete, new[]/delete[], nothrow new and new[]) must end in
// these two, as it does without the runtime.
//
//   own_new arena    the pair serves blocks from an arena of its own and
//                    aborts on a block that is not its own
//   own_new malloc   the pair wraps malloc and free (counting):
//                    TrackedKeep keeps 10 objects of 48 bytes and
//                    TrackedChurn allocates and deletes 100 of 96, so the
//                    runtime sees them (through the program's operator new)
//
// Prints "ok live=N sum=S" (N: the program's own count of its live
// blocks: the 10 kept).
#include <new>

#include "own_arena.h"

namespace {

OwnArena g_arena;
bool g_use_arena = false;
long g_tracked = 0;

struct Obj48 {
  long v[6];
};
struct Obj96 {
  long v[12];
};

Obj48* volatile g_kept[10];

}  // namespace

// Global names, as the test looks them up.
__attribute__((noinline)) Obj48* TrackedKeep(int i) { return new Obj48{{i}}; }
__attribute__((noinline)) void TrackedChurn(int i) {
  Obj96* o = new Obj96{{i}};
  asm volatile("" : : "r"(o) : "memory");
  delete o;  // sized delete: operator delete(void*, size_t)
}

void* operator new(size_t n) {
  if (g_use_arena) {
    void* p = g_arena.Take(n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void* p = malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  g_tracked++;
  return p;
}

void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  if (g_arena.Owns(p)) return g_arena.Give(p, "operator delete");
  if (g_use_arena) {
    fprintf(stderr, "operator delete: %p is not a block of this program's arena\n", p);
    abort();
  }
  g_tracked--;
  free(p);
}

int main(int argc, char** argv) {
  g_use_arena = argc > 1 && strcmp(argv[1], "arena") == 0;
  long sum = 0;
  for (int i = 0; i < 100; i++) {
    Obj48* a = new Obj48{{i}};
    sum += a->v[0];
    delete a;  // sized
    Obj48* arr = new Obj48[3];
    arr[2].v[0] = i;
    sum += arr[2].v[0];
    delete[] arr;
    Obj96* t = new (std::nothrow) Obj96{{i}};
    sum += t->v[0];
    delete t;
    char* ta = new (std::nothrow) char[40];
    ta[39] = 1;
    sum += ta[39];
    delete[] ta;
    TrackedChurn(i);
  }
  for (int i = 0; i < 10; i++) g_kept[i] = TrackedKeep(i);
  long live = g_use_arena ? g_arena.live : g_tracked;
  printf("ok live=%ld sum=%ld\n", live, sum);
  return 0;
}
