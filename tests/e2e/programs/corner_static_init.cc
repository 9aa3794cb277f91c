// Allocations before main and after it: a static constructor (keeps some
// blocks, frees one, registers an atexit handler), a constructor with
// priority 101, a thread_local object whose destructor frees at exit, and
// a static destructor that frees half of the constructor's blocks and
// allocates one block it never frees.
// Exact totals in heap.final.pb.gz (written after all of them ran):
//   CtorAlloc     10 x malloc(1000), 5 freed by the static destructor
//                                               5000 / 10000 bytes, 5 / 10
//   CtorFreed     malloc(500), freed in the constructor     0 / 500,  0 / 1
//   PrioAlloc     malloc(111) in constructor(101), kept   111 / 111,  1 / 1
//   AtexitAlloc   malloc(333) in the atexit handler, kept 333 / 333,  1 / 1
//   DtorAlloc     malloc(222) in the static destructor    222 / 222,  1 / 1
//   TlsAlloc      malloc(444) in main, freed by the thread_local's
//                 destructor at exit                        0 / 444,  0 / 1
//   MainAlloc     malloc(100) in main, kept               100 / 100,  1 / 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Not a tail call, so that each function keeps its frame in the stacks.
inline void* Touch(void* p) {
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

__attribute__((noinline)) void* CtorAlloc(size_t n) { return Touch(malloc(n)); }
__attribute__((noinline)) void* CtorFreed(size_t n) { return Touch(malloc(n)); }
__attribute__((noinline)) void* PrioAlloc(size_t n) { return Touch(malloc(n)); }
__attribute__((noinline)) void* AtexitAlloc(size_t n) { return Touch(malloc(n)); }
__attribute__((noinline)) void* DtorAlloc(size_t n) { return Touch(malloc(n)); }
__attribute__((noinline)) void* TlsAlloc(size_t n) { return Touch(malloc(n)); }
__attribute__((noinline)) void* MainAlloc(size_t n) { return Touch(malloc(n)); }

void* volatile g_prio;
void* volatile g_atexit;
void* volatile g_dtor;
void* volatile g_main;

__attribute__((constructor(101))) void EarlyConstructor() { g_prio = PrioAlloc(111); }

void AtexitHandler() { g_atexit = AtexitAlloc(333); }

struct Early {
  void* kept[10];
  Early() {
    for (auto& p : kept) p = CtorAlloc(1000);
    void* tmp = CtorFreed(500);
    memset(tmp, 0, 500);
    free(tmp);
    atexit(AtexitHandler);
  }
  ~Early() {
    for (int i = 0; i < 5; i++) free(kept[i]);
    g_dtor = DtorAlloc(222);
  }
} g_early;

struct TlsHolder {
  void* p = nullptr;
  ~TlsHolder() { free(p); }
};
thread_local TlsHolder g_tls;

int main() {
  g_tls.p = TlsAlloc(444);
  g_main = MainAlloc(100);
  printf("main ran after the constructors (%s)\n", g_prio != nullptr ? "priority 101 too" : "?");
  return 0;
}
