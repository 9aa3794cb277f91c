// A program that allocates through jemalloc's own API (mallocx, rallocx,
// xallocx, sallocx, dallocx, sdallocx), as BIND 9.18 does, with jemalloc
// as its malloc (run with LD_PRELOAD=libjemalloc.so.2, after the runtime
// when instrumented). The functions are looked up by name in the global
// scope, where the program's own calls would bind. Each block is checked
// (alignment, zeroing, contents kept by rallocx, sallocx at least nallocx),
// and the program prints "ok" or what failed; then, for every function,
// the totals the runtime must record in every-allocation mode, each block
// at its size class (nallocx), as "expect FUNCTION inuse_space alloc_space
// inuse_objects alloc_objects":
//   AllocxPlain   10 x mallocx(1000, 0), kept
//   AllocxAligned 4 x mallocx(3000, MALLOCX_ALIGN(64) | MALLOCX_ZERO), kept
//   AllocxFreed   20 x mallocx(500, 0), 10 freed by sdallocx, 10 by dallocx
//   AllocxGrow    mallocx(100, 0), rallocx to 5000, rallocx to 20000 with
//                 MALLOCX_ZERO, kept
//   AllocxCache   mallocx(1000, MALLOCX_TCACHE_NONE), kept: names a thread
//                 cache, so jemalloc takes it unsampled (expect 0)
// `corner_allocx many`: 4000 x mallocx(65536 + 64 x i) with varied flags,
// each freed by a form in turn, with rallocx and xallocx among them; for
// the default rate, where samples are page-aligned blocks.
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using MallocxFn = void* (*)(size_t, int);
using RallocxFn = void* (*)(void*, size_t, int);
using XallocxFn = size_t (*)(void*, size_t, size_t, int);
using SallocxFn = size_t (*)(const void*, int);
using DallocxFn = void (*)(void*, int);
using SdallocxFn = void (*)(void*, size_t, int);
using NallocxFn = size_t (*)(size_t, int);

MallocxFn mallocx_;
RallocxFn rallocx_;
XallocxFn xallocx_;
SallocxFn sallocx_;
DallocxFn dallocx_;
SdallocxFn sdallocx_;
NallocxFn nallocx_;

constexpr int kZero = 0x40;                 // MALLOCX_ZERO
constexpr int kAlign64 = 6;                 // MALLOCX_ALIGN(64)
constexpr int kTcacheNone = (-1 + 2) << 8;  // MALLOCX_TCACHE_NONE

int g_failures = 0;
void Fail(const char* what, size_t a, size_t b) {
  if (g_failures++ < 10) printf("failed: %s (%zu, %zu)\n", what, a, b);
}

void* volatile g_kept[64];
int g_nkept = 0;
void Keep(void* p) { g_kept[g_nkept++] = p; }

void CheckBlock(void* p, size_t size, int flags) {
  if (p == nullptr) return Fail("null block", size, 0);
  size_t usable = sallocx_(p, 0);
  if (usable < nallocx_(size, flags)) Fail("sallocx below nallocx", usable, nallocx_(size, flags));
  size_t align = (flags & 0x3f) != 0 ? size_t{1} << (flags & 0x3f) : 16;
  if (reinterpret_cast<uintptr_t>(p) % align != 0) Fail("misaligned", size, align);
  if ((flags & kZero) != 0) {
    for (size_t i = 0; i < size; i++) {
      if (static_cast<char*>(p)[i] != 0) return Fail("not zeroed", size, i);
    }
  }
  memset(p, 0x5a, usable);  // all of it is the program's to use
}

__attribute__((noinline)) void AllocxPlain() {
  for (int i = 0; i < 10; i++) {
    void* p = mallocx_(1000, 0);
    CheckBlock(p, 1000, 0);
    Keep(p);
  }
}

__attribute__((noinline)) void AllocxAligned() {
  for (int i = 0; i < 4; i++) {
    void* p = mallocx_(3000, kAlign64 | kZero);
    CheckBlock(p, 3000, kAlign64 | kZero);
    Keep(p);
  }
}

__attribute__((noinline)) void AllocxFreed() {
  for (int i = 0; i < 20; i++) {
    void* p = mallocx_(500, 0);
    CheckBlock(p, 500, 0);
    if (i % 2 == 0) {
      sdallocx_(p, 500, 0);
    } else {
      dallocx_(p, 0);
    }
  }
}

__attribute__((noinline)) void AllocxGrow() {
  auto* p = static_cast<unsigned char*>(mallocx_(100, 0));
  CheckBlock(p, 100, 0);
  for (int i = 0; i < 100; i++) p[i] = static_cast<unsigned char>(i);
  p = static_cast<unsigned char*>(rallocx_(p, 5000, 0));
  if (p == nullptr) return Fail("rallocx 5000", 0, 0);
  for (int i = 0; i < 100; i++) {
    if (p[i] != i) return Fail("rallocx lost the contents", 5000, static_cast<size_t>(i));
  }
  size_t old = sallocx_(p, 0);
  memset(p, 7, old);
  p = static_cast<unsigned char*>(rallocx_(p, 20000, kZero));
  if (p == nullptr) return Fail("rallocx 20000", 0, 0);
  for (size_t i = 0; i < 20000; i++) {
    if (p[i] != (i < old ? 7 : 0)) return Fail("rallocx zeroing", old, i);
  }
  size_t now = sallocx_(p, 0);
  size_t x = xallocx_(p, now + 65536, 0, 0);
  if (x < now) Fail("xallocx shrank", now, x);
  if (sallocx_(p, 0) != x) Fail("xallocx and sallocx disagree", x, sallocx_(p, 0));
  Keep(p);
}

__attribute__((noinline)) void AllocxCache() {
  void* p = mallocx_(1000, kTcacheNone);
  CheckBlock(p, 1000, 0);
  Keep(p);
}

void Expect(const char* fn, size_t inuse, size_t alloc, size_t inuse_n, size_t alloc_n) {
  printf("expect %s %zu %zu %zu %zu\n", fn, inuse, alloc, inuse_n, alloc_n);
}

int Many() {
  void* held[8] = {};
  for (int i = 0; i < 4000; i++) {
    size_t size = 65536 + 64 * static_cast<size_t>(i % 100);
    int flags = (i % 3 == 0 ? kZero : 0) | (i % 5 == 0 ? kAlign64 : 0);
    void* p = mallocx_(size, flags);
    CheckBlock(p, size, flags);
    if (i % 7 == 0) {
      p = rallocx_(p, size * 2, flags);
      if (p == nullptr) return Fail("rallocx", size, 0), 1;
      xallocx_(p, size * 3, 0, 0);
    }
    void*& slot = held[i % 8];
    if (slot != nullptr) {
      switch (i % 3) {
        case 0:
          dallocx_(slot, 0);
          break;
        case 1:
          sdallocx_(slot, sallocx_(slot, 0), 0);
          break;
        default:
          free(slot);
          break;
      }
    }
    slot = p;
  }
  for (void* p : held) dallocx_(p, 0);
  return 0;
}

int main(int argc, char** argv) {
  mallocx_ = reinterpret_cast<MallocxFn>(dlsym(RTLD_DEFAULT, "mallocx"));
  rallocx_ = reinterpret_cast<RallocxFn>(dlsym(RTLD_DEFAULT, "rallocx"));
  xallocx_ = reinterpret_cast<XallocxFn>(dlsym(RTLD_DEFAULT, "xallocx"));
  sallocx_ = reinterpret_cast<SallocxFn>(dlsym(RTLD_DEFAULT, "sallocx"));
  dallocx_ = reinterpret_cast<DallocxFn>(dlsym(RTLD_DEFAULT, "dallocx"));
  sdallocx_ = reinterpret_cast<SdallocxFn>(dlsym(RTLD_DEFAULT, "sdallocx"));
  nallocx_ = reinterpret_cast<NallocxFn>(dlsym(RTLD_DEFAULT, "nallocx"));
  if (!mallocx_ || !rallocx_ || !xallocx_ || !sallocx_ || !dallocx_ || !sdallocx_ || !nallocx_) {
    printf("jemalloc's API is not there (run with LD_PRELOAD=libjemalloc.so.2)\n");
    return 2;
  }
  if (argc > 1 && strcmp(argv[1], "many") == 0) {
    Many();
    printf(g_failures == 0 ? "ok\n" : "failures: %d\n", g_failures);
    return g_failures == 0 ? 0 : 1;
  }
  AllocxPlain();
  AllocxAligned();
  AllocxFreed();
  AllocxGrow();
  AllocxCache();
  printf(g_failures == 0 ? "ok\n" : "failures: %d\n", g_failures);
  size_t plain = nallocx_(1000, 0);
  size_t aligned = nallocx_(3000, kAlign64 | kZero);
  size_t freed = nallocx_(500, 0);
  size_t grown = nallocx_(20000, kZero);
  Expect("AllocxPlain", 10 * plain, 10 * plain, 10, 10);
  Expect("AllocxAligned", 4 * aligned, 4 * aligned, 4, 4);
  Expect("AllocxFreed", 0, 20 * freed, 0, 20);
  Expect("AllocxGrow", grown, nallocx_(100, 0) + nallocx_(5000, 0) + grown, 1, 3);
  Expect("AllocxCache", 0, 0, 0, 0);
  return g_failures == 0 ? 0 : 1;
}
