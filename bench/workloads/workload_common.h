// Shared plumbing for the bench-<name> workloads: argument parsing, a
// deterministic PRNG, checksum mixing and the one-line result. Header-only so
// each workload stays a single translation unit with no library to link.
//
// Workloads are deterministic: for a given --threads and --scale they do the
// same work and print the same checksum under any allocator or profiler,
// which is how the runner checks that a tool did not change behaviour.
#ifndef HEAPSCOPE_BENCH_WORKLOADS_WORKLOAD_COMMON_H_
#define HEAPSCOPE_BENCH_WORKLOADS_WORKLOAD_COMMON_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

struct WorkloadArgs {
  int threads = 1;
  double scale = 1.0;
};

// Scales a base iteration count, never below 1.
inline uint64_t Scaled(uint64_t base, double scale) {
  const double value = static_cast<double>(base) * scale;
  return value < 1 ? 1 : static_cast<uint64_t>(value);
}

// Parses --threads N (if `threads_supported`) and --scale X, as "--flag value"
// or "--flag=value". Prints usage and exits on --help or bad input.
inline WorkloadArgs ParseArgs(int argc, char** argv, const char* name, int default_threads,
                              bool threads_supported) {
  WorkloadArgs args;
  args.threads = default_threads;
  auto usage = [&](std::FILE* out) {
    std::fprintf(out, "usage: bench-%s%s [--scale X]\n", name,
                 threads_supported ? " [--threads N]" : "");
    std::fprintf(out, "  --scale X    multiply the amount of work (default 1.0)\n");
    if (threads_supported) {
      std::fprintf(out, "  --threads N  worker threads (default %d)\n", default_threads);
    }
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string value;
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    }
    const size_t eq = arg.find('=');
    if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    } else if ((arg == "--scale" || arg == "--threads") && i + 1 < argc) {
      value = argv[++i];
    }
    char* end = nullptr;
    if (arg == "--scale") {
      args.scale = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(args.scale > 0)) {
        std::fprintf(stderr, "bench-%s: --scale wants a number > 0\n", name);
        std::exit(2);
      }
    } else if (arg == "--threads" && threads_supported) {
      const long threads = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || threads < 1 || threads > 1024) {
        std::fprintf(stderr, "bench-%s: --threads wants 1..1024\n", name);
        std::exit(2);
      }
      args.threads = static_cast<int>(threads);
    } else {
      std::fprintf(stderr, "bench-%s: unknown argument '%s'\n", name, argv[i]);
      usage(stderr);
      std::exit(2);
    }
  }
  return args;
}

// xoshiro256** seeded through SplitMix64: fast, and identical on every
// platform (unlike std:: distributions).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : state_) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0 (modulo bias is irrelevant here).
  uint64_t Below(uint64_t bound) { return Next() % bound; }
  uint64_t Between(uint64_t low, uint64_t high) { return low + Below(high - low + 1); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Order-sensitive checksum step.
inline uint64_t MixChecksum(uint64_t checksum, uint64_t value) {
  checksum ^= value + 0x9E3779B97F4A7C15ull + (checksum << 6) + (checksum >> 2);
  return checksum;
}

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The runner parses "checksum=" from this line.
inline void PrintResult(const char* name, const WorkloadArgs& args, uint64_t operations,
                        uint64_t checksum, double seconds) {
  std::printf("bench-%s: threads=%d scale=%g ops=%llu checksum=%016llx seconds=%.3f\n", name,
              args.threads, args.scale, static_cast<unsigned long long>(operations),
              static_cast<unsigned long long>(checksum), seconds);
}

}  // namespace bench

#endif  // HEAPSCOPE_BENCH_WORKLOADS_WORKLOAD_COMMON_H_
