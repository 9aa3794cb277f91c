// Leaving deep code abnormally: C++ exceptions thrown through 60 frames
// that allocate (with destructors that free and allocate while the
// exception unwinds them), and longjmp out of 60 frames of C-style code.
// Exact totals (every allocation recorded), kRounds = 200, kDepth = 60:
//   LevelAlloc    kRounds x kDepth x malloc(100), freed by the unwinding
//                 destructors                 0 / 1200000 bytes, 0 / 12000
//   UnwindAlloc   one malloc(32) in each of those destructors, freed at once
//                                              0 / 384000 bytes,  0 / 12000
//   JumpAlloc     kRounds x kDepth x malloc(200), freed after the longjmp
//                                              0 / 2400000 bytes, 0 / 12000
//   JumpKept      one malloc(16) per longjmp round, kept
//                                           3200 / 3200 bytes,  200 / 200
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdexcept>

constexpr int kRounds = 200;
constexpr int kDepth = 60;

__attribute__((noinline)) void* LevelAlloc(size_t n) {
  void* p = malloc(n);
  memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void UnwindAlloc() {
  void* p = malloc(32);
  memset(p, 2, 32);
  asm volatile("" : : "r"(p) : "memory");
  free(p);
}

struct Holder {
  void* p;
  ~Holder() {
    UnwindAlloc();
    free(p);
  }
};

long g_levels = 0;

__attribute__((noinline)) void Throwing(int depth) {
  Holder h{LevelAlloc(100)};
  g_levels++;
  if (depth == 0) throw std::runtime_error("bottom reached");
  Throwing(depth - 1);
  asm volatile("" ::: "memory");  // not a tail call
}

jmp_buf g_jump;
void* g_jump_blocks[kDepth + 1];
void* g_jump_kept[kRounds];

__attribute__((noinline)) void* JumpAlloc(size_t n) {
  void* p = malloc(n);
  memset(p, 3, n);
  return p;
}

__attribute__((noinline)) void* JumpKept() {
  void* p = malloc(16);
  asm volatile("" : : "r"(p) : "memory");  // not a tail call
  return p;
}

__attribute__((noinline)) void Jumping(int depth, int round) {
  if (depth < 0) return;
  g_jump_blocks[depth] = JumpAlloc(200);
  if (depth == 0) {
    g_jump_kept[round] = JumpKept();
    longjmp(g_jump, 1);
  }
  Jumping(depth - 1, round);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) int ThrowRounds() {
  int caught = 0;
  for (int r = 0; r < kRounds; r++) {
    try {
      Throwing(kDepth - 1);
    } catch (const std::runtime_error& e) {
      if (strcmp(e.what(), "bottom reached") == 0) caught++;
    }
  }
  return caught;
}

__attribute__((noinline)) int JumpRounds() {
  volatile int jumps = 0;
  volatile int r = 0;  // volatile: it lives across longjmp
  while (r < kRounds) {
    if (setjmp(g_jump) == 0) {
      Jumping(kDepth - 1, r);
    } else {
      jumps = jumps + 1;
      for (int d = 0; d < kDepth; d++) {
        free(g_jump_blocks[d]);
        g_jump_blocks[d] = nullptr;
      }
    }
    r = r + 1;
  }
  return jumps;
}

int main() {
  int caught = ThrowRounds();
  int jumps = JumpRounds();
  printf("caught %d exceptions through %ld frames; %d longjmps\n", caught, g_levels, jumps);
  return 0;
}
