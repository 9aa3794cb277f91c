// src/base: building blocks that never allocate through malloc, usable both
// inside the profiled process (from a malloc hook) and in the analyzer.
// May call: libc syscall wrappers that do not allocate. May not call: malloc,
// new, stdio, anything in runtime/, format/, analyze/.
#pragma once

#define HS_LIKELY(x) __builtin_expect(!!(x), 1)
#define HS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HS_NOINLINE __attribute__((noinline))
#define HS_ALWAYS_INLINE inline __attribute__((always_inline))
#define HS_HIDDEN __attribute__((visibility("hidden")))
// The text of x after macro expansion: HS_STRINGIFY(SYS_clone) is "56".
#define HS_STRINGIFY_TEXT(x) #x
#define HS_STRINGIFY(x) HS_STRINGIFY_TEXT(x)
