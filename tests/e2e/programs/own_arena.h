// A bump arena whose blocks carry a header that Give() checks, aborting on
// a block that is not its own: for the test programs that bring their own
// allocation functions (own_new.cc, own_malloc.cc).
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct OwnArena {
  alignas(64) unsigned char bytes[1 << 24];
  size_t used = 0;
  long live = 0;

  void* Take(size_t n) {
    size_t need = (n + 64 + 63) & ~size_t{63};
    if (used + need > sizeof bytes) return nullptr;
    unsigned char* p = bytes + used;
    used += need;
    memcpy(p, "ARENA!", 6);
    memcpy(p + 8, &n, sizeof n);
    live++;
    return p + 64;
  }
  bool Owns(const void* q) const {
    auto* p = static_cast<const unsigned char*>(q) - 64;
    return p >= bytes && p < bytes + sizeof bytes && memcmp(p, "ARENA!", 6) == 0;
  }
  size_t SizeOf(const void* q) const {
    size_t n;
    memcpy(&n, static_cast<const unsigned char*>(q) - 56, sizeof n);
    return n;
  }
  void Give(void* q, const char* who) {
    if (q == nullptr) return;
    if (!Owns(q)) {
      fprintf(stderr, "%s: %p is not a block of this program's arena\n", who, q);
      abort();
    }
    live--;
  }
};
