/* heapscope: the runtime's public C API. Everything here is optional: the
 * runtime works with LD_PRELOAD alone. Programs that link libheapscope.so
 * (or look these up with dlsym) can ask for a profile at a moment of their
 * choosing. */
#ifndef HEAPSCOPE_HEAPSCOPE_H_
#define HEAPSCOPE_HEAPSCOPE_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a gzipped profile.proto heap profile. With path NULL, writes the
 * next numbered snapshot (heap.NNNN.pb.gz) into the output directory.
 * Returns 0 on success, -1 on failure (errno tells why). */
int heapscope_dump(const char* path);

/* 1 when allocations are being recorded in this process, else 0. */
int heapscope_active(void);

#ifdef __cplusplus
}
#endif

#endif /* HEAPSCOPE_HEAPSCOPE_H_ */
