// A program that carries functions of the names of the runtime's own
// dependencies and exports them, as varnishd exports its changed zlib for
// its modules: deflateInit2_, deflate and deflateEnd that fail, and an
// unw_backtrace that finds nothing. The runtime must use its own (before,
// it bound to these and wrote no profile). Prints "done".
//   OwnZlibAlloc  6 x malloc(3000), kept      18000 / 18000, 6 / 6
#include <stdio.h>
#include <stdlib.h>

extern "C" {
// zlib's Z_VERSION_ERROR and Z_STREAM_ERROR.
__attribute__((visibility("default"), noinline)) int deflateInit2_(void*, int, int, int, int, int,
                                                                   const char*, int) {
  return -6;
}
__attribute__((visibility("default"), noinline)) int deflate(void*, int) { return -2; }
__attribute__((visibility("default"), noinline)) int deflateEnd(void*) { return -2; }
__attribute__((visibility("default"), noinline)) int unw_backtrace(void**, int) { return 0; }
}

void* volatile g_kept[6];

__attribute__((noinline)) void OwnZlibAlloc() {
  for (int i = 0; i < 6; i++) g_kept[i] = malloc(3000);
}

int main() {
  OwnZlibAlloc();
  printf("done\n");
  return 0;
}
