// Built without PIE, a program that takes the addresses of malloc, free
// and operator new exports them as undefined symbols whose value is its PLT
// stub (canonical PLT entries, for function pointer equality), as
// Debian's python3 and node do for malloc. dlsym(RTLD_DEFAULT, "malloc")
// then names the program's stub, not an allocator of its own: the runtime
// must still see every allocation (and its operator new must not call the
// stub, which leads back to itself). Exact totals (every allocation
// recorded):
//   ViaPointer  10 x malloc(1000) through g_malloc, kept      10000 / 10
//   ViaCall     20 x malloc(500) called directly, kept         10000 / 20
//   ViaNew      5 x operator new(300) through g_new, kept      1500 / 5
//               and 4 x new char[200], kept                    800 / 4
//   Churn       100 x malloc(64) freed through g_free          0 / 0 in use,
//                                                              6400 / 100 allocated
#include <stdio.h>
#include <stdlib.h>

#include <new>

// Set in code (an absolute address in a non-PIE instruction), not in a
// data initialiser (a dynamic relocation): this is what makes the linker
// emit canonical PLT entries.
void* (*volatile g_malloc)(size_t);
void (*volatile g_free)(void*);
void* (*volatile g_new)(size_t);

void* volatile g_kept[64];
int g_next = 0;

__attribute__((noinline)) void ViaPointer() {
  for (int i = 0; i < 10; i++) g_kept[g_next++] = g_malloc(1000);
}

__attribute__((noinline)) void ViaCall() {
  for (int i = 0; i < 20; i++) g_kept[g_next++] = malloc(500);
}

__attribute__((noinline)) void ViaNew() {
  for (int i = 0; i < 5; i++) g_kept[g_next++] = g_new(300);
  for (int i = 0; i < 4; i++) g_kept[g_next++] = new char[200];
}

__attribute__((noinline)) void Churn() {
  for (int i = 0; i < 100; i++) {
    void* p = malloc(64);
    static_cast<char*>(p)[0] = 1;
    g_free(p);
  }
}

int main() {
  g_malloc = malloc;
  g_free = free;
  g_new = &::operator new;
  ViaPointer();
  ViaCall();
  ViaNew();
  Churn();
  printf("ok %d blocks kept\n", g_next);
  return 0;
}
