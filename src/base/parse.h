// Parsers for the values people type in environment variables and flags:
// durations ("10s", "500ms", "2m", "1h", plain seconds) and sizes ("512K",
// "64MiB", "1g", plain bytes). They never allocate, so the runtime can use
// them while reading HEAPSCOPE_* variables.
#pragma once

#include <cstdint>

namespace heapscope::base {

// Parses a duration into nanoseconds. Returns false on anything else
// (empty, negative, unknown unit, overflow, trailing garbage).
[[nodiscard]] bool ParseDuration(const char* text, uint64_t* nanos);

// Parses a size into bytes. Units: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB
// (binary multiples, case-insensitive). Returns false on anything else.
[[nodiscard]] bool ParseSize(const char* text, uint64_t* bytes);

// Parses a signal: a number (1..64), USR1, USR2, PROF, RTMIN+N (with or
// without "SIG"), or "0"/"off" for none (*sig = 0). The runtime and
// `heapscope dump` share it, so they always agree.
[[nodiscard]] bool ParseSignal(const char* text, int* sig);

// Parses a non-negative decimal integer that fits in uint64.
[[nodiscard]] bool ParseUint(const char* text, uint64_t* value);

}  // namespace heapscope::base
