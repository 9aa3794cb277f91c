// The rest of the malloc family, each call in its own function; the
// program checks its own results (alignment, contents, errno, usable
// size) and prints one line per function.
// Usage: alloc_family [REPEAT]   (every function runs REPEAT times)
// Exact values for REPEAT=1 at HEAPSCOPE_RATE=1 (in-use / allocated bytes,
// in-use / allocated objects):
//   PosixMemalign   posix_memalign 64 x 1000, 4096 x 3000; EINVAL for 3, 24
//                                                     4000 / 4000,   2 / 2
//   AlignedAlloc    3 x aligned_alloc(128, 1024)      3072 / 3072,   3 / 3
//   Memalign        memalign(256, 700)                 700 / 700,    1 / 1
//   OddAlignment    memalign(24, 100), aligned_alloc(48, 200): glibc rounds
//                   the alignment up and succeeds       300 / 300,    2 / 2
//   Valloc          valloc(5000)                      5000 / 5000,   1 / 1
//   Pvalloc         pvalloc(5000), pvalloc(1): recorded rounded up to a
//                   page, 8192 + 4096                12288 / 12288,  2 / 2
//   Reallocarray    (NULL, 10, 100) then (p, 20, 100); overflow -> NULL,
//                   ENOMEM, block untouched           2000 / 3000,   1 / 2
//   ReallocZero     malloc(4000), realloc(p, 0)          0 / 4000,   0 / 1
//   ReallocMove     malloc(100) -> 100000 -> 50         50 / 100150, 1 / 3
//   CallocZero      malloc(5000) dirtied and freed, calloc(50, 100) zeroed
//                                                     5000 / 10000,  1 / 2
//   CallocOverflow  calloc(SIZE_MAX / 2, 4) -> NULL, ENOMEM    nothing
//   UsableSize      malloc(1000), malloc_usable_size >= 1000
//                                                     1000 / 1000,   1 / 1
//   NothrowNew      new (nothrow) char[3000]; a huge one -> nullptr
//                                                     3000 / 3000,   1 / 1
//   NewThrows       operator new(SIZE_MAX / 2) throws std::bad_alloc  nothing
//   Strdup          strdup of 99 chars (kept), strndup(s, 49) (freed): the
//                   copies count in the caller (strdup is in the heap
//                   profiles' drop_frames)                 100 / 150,    1 / 2
//   Wrapper         xmalloc(300), a wrapper of the libiberty kind, also
//                   dropped: the block counts in its caller 300 / 300,    1 / 1
//   AlignedRealloc  posix_memalign(256, 500) grown by realloc to 2000 (its
//                   contents kept), then usable size  2000 / 2500,   1 / 2
//   HugeMalloc      malloc(SIZE_MAX / 2) -> NULL, ENOMEM        nothing
//   LibcMalloc      blocks from glibc's __libc_malloc (not the hooks': not
//                   recorded) grown by realloc, sized by
//                   malloc_usable_size, given to free             nothing
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cstdio>
#include <new>
#include <string>

void* volatile g_sink[64];
volatile size_t g_huge = SIZE_MAX / 2;  // volatile: no compile-time size warnings
std::string g_fail[19];

bool Aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

void Expect(int fn, bool ok, const char* what) {
  if (!ok && g_fail[fn].empty()) g_fail[fn] = what;
}

__attribute__((noinline)) void PosixMemalign() {
  void* p = nullptr;
  void* q = nullptr;
  void* r = nullptr;
  Expect(0, posix_memalign(&p, 64, 1000) == 0 && Aligned(p, 64), "64-byte alignment");
  Expect(0, posix_memalign(&q, 4096, 3000) == 0 && Aligned(q, 4096), "page alignment");
  Expect(0, posix_memalign(&r, 3, 100) == EINVAL, "alignment 3 accepted");
  Expect(0, posix_memalign(&r, 24, 100) == EINVAL, "alignment 24 accepted");
  Expect(0, r == nullptr, "out pointer written on failure");
  Expect(0, malloc_usable_size(q) >= 3000, "usable size");
  g_sink[0] = p;
  g_sink[1] = q;
}

__attribute__((noinline)) void AlignedAlloc() {
  for (int i = 0; i < 3; i++) {
    void* p = aligned_alloc(128, 1024);
    Expect(1, p != nullptr && Aligned(p, 128), "128-byte alignment");
    g_sink[2 + i] = p;
  }
}

__attribute__((noinline)) void Memalign() {
  void* p = memalign(256, 700);
  Expect(2, p != nullptr && Aligned(p, 256), "256-byte alignment");
  Expect(2, malloc_usable_size(p) >= 700, "usable size");
  g_sink[5] = p;
}

__attribute__((noinline)) void OddAlignment() {
  void* p = memalign(24, 100);
  void* q = aligned_alloc(48, 200);
  Expect(3, p != nullptr && Aligned(p, 8), "memalign(24) failed");
  Expect(3, q != nullptr && Aligned(q, 16), "aligned_alloc(48) failed");
  g_sink[6] = p;
  g_sink[7] = q;
}

__attribute__((noinline)) void Valloc() {
  void* p = valloc(5000);
  Expect(4, p != nullptr && Aligned(p, 4096), "page alignment");
  Expect(4, malloc_usable_size(p) >= 5000, "usable size");
  g_sink[8] = p;
}

__attribute__((noinline)) void Pvalloc() {
  void* p = pvalloc(5000);
  void* q = pvalloc(1);
  Expect(5, p != nullptr && Aligned(p, 4096), "page alignment");
  Expect(5, malloc_usable_size(p) >= 8192, "usable size below two pages");
  Expect(5, q != nullptr && Aligned(q, 4096) && malloc_usable_size(q) >= 4096, "pvalloc(1)");
  memset(p, 1, 8192);  // the whole rounded size is the program's to use
  g_sink[9] = p;
  g_sink[10] = q;
}

// A refused reallocarray leaves the block valid; GCC cannot know it was refused.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
__attribute__((noinline)) void Reallocarray() {
  char* p = static_cast<char*>(reallocarray(nullptr, 10, 100));
  Expect(6, p != nullptr, "first reallocarray");
  memset(p, 'a', 1000);
  p = static_cast<char*>(reallocarray(p, 20, 100));
  Expect(6, p != nullptr && p[999] == 'a', "grown block lost its contents");
  memset(p, 'b', 2000);
  errno = 0;
  void* q = reallocarray(p, g_huge, 3);
  Expect(6, q == nullptr && errno == ENOMEM, "overflow not refused with ENOMEM");
  Expect(6, p[0] == 'b' && p[1999] == 'b', "block changed by a refused reallocarray");
  g_sink[11] = p;
}
#pragma GCC diagnostic pop

__attribute__((noinline)) void ReallocZero() {
  void* p = malloc(4000);
  g_sink[12] = p;
  void* q = realloc(p, 0);
  // glibc frees the block and returns NULL; the line is compared with the
  // program's run without the profiler, whatever it says.
  std::printf("ReallocZero: realloc(p, 0) returned %s\n", q == nullptr ? "NULL" : "a block");
  g_sink[12] = q;
}

__attribute__((noinline)) void ReallocMove() {
  char* p = static_cast<char*>(malloc(100));
  for (int i = 0; i < 100; i++) p[i] = static_cast<char>(i);
  p = static_cast<char*>(realloc(p, 100000));
  bool ok = p != nullptr;
  for (int i = 0; ok && i < 100; i++) ok = p[i] == static_cast<char>(i);
  Expect(8, ok, "grown block lost its contents");
  p[99999] = 1;
  p = static_cast<char*>(realloc(p, 50));
  ok = p != nullptr;
  for (int i = 0; ok && i < 50; i++) ok = p[i] == static_cast<char>(i);
  Expect(8, ok, "shrunk block lost its contents");
  g_sink[13] = p;
}

__attribute__((noinline)) void CallocZero() {
  void* dirty = malloc(5000);
  memset(dirty, 0xff, 5000);
  g_sink[14] = dirty;
  free(dirty);
  unsigned char* p = static_cast<unsigned char*>(calloc(50, 100));
  bool zero = p != nullptr;
  for (int i = 0; zero && i < 5000; i++) zero = p[i] == 0;
  Expect(9, zero, "calloc memory not zeroed");
  g_sink[14] = p;
}

__attribute__((noinline)) void CallocOverflow() {
  errno = 0;
  void* p = calloc(g_huge, 4);
  Expect(10, p == nullptr, "overflowing calloc returned memory");
  Expect(10, errno == ENOMEM, "overflowing calloc did not set ENOMEM");
  g_sink[15] = p;
}

__attribute__((noinline)) void UsableSize() {
  void* p = malloc(1000);
  Expect(11, malloc_usable_size(p) >= 1000, "usable size below the request");
  Expect(11, malloc_usable_size(nullptr) == 0, "usable size of NULL");
  g_sink[16] = p;
}

__attribute__((noinline)) void NothrowNew() {
  char* p = new (std::nothrow) char[3000];
  Expect(12, p != nullptr, "new (nothrow) char[3000] failed");
  void* q = operator new(g_huge, std::nothrow);
  Expect(12, q == nullptr, "huge new (nothrow) did not return nullptr");
  g_sink[17] = p;
}

__attribute__((noinline)) void NewThrows() {
  bool thrown = false;
  try {
    g_sink[18] = operator new(g_huge);
  } catch (const std::bad_alloc&) {
    thrown = true;
  }
  Expect(13, thrown, "huge operator new did not throw std::bad_alloc");
}

char g_text[100];

__attribute__((noinline)) void Strdup() {
  char* kept = strdup(g_text);
  Expect(14, kept != nullptr && strcmp(kept, g_text) == 0, "strdup copy differs");
  char* part = strndup(g_text, 49);
  Expect(14, part != nullptr && strlen(part) == 49 && memcmp(part, g_text, 49) == 0,
         "strndup copy differs");
  free(part);
  g_sink[20] = kept;
}

// As libiberty's (GCC, binutils) and git's: malloc or die.
extern "C" __attribute__((noinline, visibility("default"))) void* xmalloc(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  return p;
}

__attribute__((noinline)) void Wrapper() { g_sink[21] = xmalloc(300); }

__attribute__((noinline)) void AlignedRealloc() {
  void* v = nullptr;
  Expect(16, posix_memalign(&v, 256, 500) == 0 && Aligned(v, 256), "256-byte alignment");
  char* p = static_cast<char*>(v);
  if (p == nullptr) return;
  for (int i = 0; i < 500; i++) p[i] = static_cast<char>(i * 7);
  p = static_cast<char*>(realloc(p, 2000));
  bool ok = p != nullptr;
  for (int i = 0; ok && i < 500; i++) ok = p[i] == static_cast<char>(i * 7);
  Expect(16, ok, "grown aligned block lost its contents");
  if (p == nullptr) return;
  Expect(16, malloc_usable_size(p) >= 2000, "usable size of the grown block");
  p[1999] = 1;
  g_sink[22] = p;
}

extern "C" void* __libc_malloc(size_t);

__attribute__((noinline)) void LibcMalloc() {
  for (size_t n : {24, 200, 5000}) {
    char* p = static_cast<char*>(__libc_malloc(n));
    Expect(18, p != nullptr, "__libc_malloc failed");
    if (p == nullptr) return;
    memset(p, 0x5a, n);
    Expect(18, malloc_usable_size(p) >= n, "usable size of a __libc_malloc block");
    p = static_cast<char*>(realloc(p, 2 * n));
    bool ok = p != nullptr;
    for (size_t i = 0; ok && i < n; i++) ok = p[i] == 0x5a;
    Expect(18, ok, "a __libc_malloc block lost its contents in realloc");
    if (p == nullptr) return;
    Expect(18, malloc_usable_size(p) >= 2 * n, "usable size after realloc");
    free(p);
  }
}

__attribute__((noinline)) void HugeMalloc() {
  errno = 0;
  void* p = malloc(g_huge);
  Expect(17, p == nullptr, "malloc(SIZE_MAX / 2) returned memory");
  Expect(17, errno == ENOMEM, "malloc(SIZE_MAX / 2) did not set ENOMEM");
  g_sink[23] = p;
}

int main(int argc, char** argv) {
  for (int i = 0; i < 99; i++) g_text[i] = static_cast<char>('a' + i % 26);
  int repeat = argc > 1 ? atoi(argv[1]) : 1;
  for (int i = 0; i < repeat; i++) {
    PosixMemalign();
    AlignedAlloc();
    Memalign();
    OddAlignment();
    Valloc();
    Pvalloc();
    Reallocarray();
    if (i == 0) {
      ReallocZero();
    } else {
      void* p = realloc(malloc(10), 0);
      g_sink[19] = p;
    }
    ReallocMove();
    CallocZero();
    CallocOverflow();
    UsableSize();
    NothrowNew();
    NewThrows();
    Strdup();
    Wrapper();
    AlignedRealloc();
    HugeMalloc();
    LibcMalloc();
  }
  static const char* kNames[] = {"PosixMemalign",  "AlignedAlloc", "Memalign",       "OddAlignment",
                                 "Valloc",         "Pvalloc",      "Reallocarray",   "ReallocZero",
                                 "ReallocMove",    "CallocZero",   "CallocOverflow", "UsableSize",
                                 "NothrowNew",     "NewThrows",    "Strdup",         "Wrapper",
                                 "AlignedRealloc", "HugeMalloc",   "LibcMalloc"};
  int failed = 0;
  for (int i = 0; i < 19; i++) {
    std::printf("%s: %s\n", kNames[i], g_fail[i].empty() ? "ok" : g_fail[i].c_str());
    failed += !g_fail[i].empty();
  }
  return failed == 0 ? 0 : 1;
}
