// The endpoints of the live server: each turns a parsed request into a
// reply body in mmap'ed memory. They run on the server thread, which holds
// a RecursionGuard for its whole life, so nothing here is ever recorded in
// the profiles it serves. No handler touches the file system beyond /proc/self.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/mmap_arena.h"
#include "format/proto_encoder.h"
#include "runtime/http/request.h"
#include "runtime/profile_writer.h"

namespace heapscope::runtime::http {

// What the server sends back: status, a few headers, the body.
struct Reply {
  int status = 200;
  const char* content_type = "text/plain; charset=utf-8";
  const char* attachment = nullptr;  // Content-Disposition filename
  const char* allow = nullptr;       // Allow header (405)
  bool auth_challenge = false;       // WWW-Authenticate (401)
  base::MmapBuffer* body = nullptr;
};

// Appends text and numbers to a reply body without allocating.
class Text {
 public:
  explicit Text(base::MmapBuffer* b) : b_(b) {}
  Text& Str(const char* s);
  Text& Str(const char* s, size_t n);
  Text& Char(char c) { return Str(&c, 1); }
  Text& Uint(uint64_t v);
  Text& Int(int64_t v);
  Text& Hex(uint64_t v);  // 0x...
  // v with three decimals (uptime seconds and the like).
  Text& Fixed3(uint64_t thousandths);
  // A JSON string literal (quotes included); bytes >= 0x80 as \u00XX.
  Text& JsonString(const char* s, size_t n);

 private:
  base::MmapBuffer* b_;
};

// ByteSink over a reply body, for the profile writers.
class BodySink : public format::ByteSink {
 public:
  explicit BodySink(base::MmapBuffer* b) : b_(b) {}
  bool Append(const void* data, size_t n) override { return b_->Append(data, n); }

 private:
  base::MmapBuffer* b_;
};

enum class Route {
  kIndex, kHeap, kAllocs, kCmdline, kSymbol, kVars, kMetrics, kNotFound,
  kFds, kThreadcreate, kMmap,  // resources besides the heap (runtime/resource_profiles.h)
  kThreads,                    // every thread's current stack (runtime/thread_stacks.h)
  kProfile,                    // CPU profile (runtime/cpu_profile.h)
};
Route Lookup(Slice path);

struct HeapQuery {
  bool allocs = false;   // /debug/pprof/allocs: alloc_space is the default
  bool text = false;     // debug=1 (any non-zero debug)
  uint64_t seconds = 0;  // delta profile over this many seconds
};
inline constexpr uint64_t kMaxDeltaSeconds = 600;

// /debug/pprof/profile?seconds=N: default 30, 1..300.
inline constexpr uint64_t kDefaultCpuSeconds = 30;
inline constexpr uint64_t kMaxCpuSeconds = 300;
bool ParseCpuSeconds(const Request& req, uint64_t* seconds, Reply* reply);

// /debug/pprof/threads[?debug=1|2]: asks every thread for its stack (waits
// at most a second for the answers).
void ServeThreads(const Request& req, SymbolCache* symbols, Reply* reply);

// The CPU profile taken since StartCpuProfile, written into the reply.
void ServeCpuProfile(SymbolCache* symbols, Reply* reply);

// Reads debug= and seconds=. Returns false (with an error reply) on bad values.
bool ParseHeapQuery(const Request& req, Route route, HeapQuery* q, Reply* reply);

// The heap profile now; a delta when base is given (alloc values are the
// growth since base was captured, duration_ns ago).
void ServeHeap(const HeapQuery& q, SymbolCache* symbols, const AllocBase* base, size_t nbase,
               uint64_t duration_ns, Reply* reply);
void ServeIndex(Reply* reply);
void ServeCmdline(Reply* reply);
void ServeSymbol(const Request& req, SymbolCache* symbols, Reply* reply);
void ServeVars(Reply* reply);
void ServeMetrics(Reply* reply);
void ServeError(int status, const char* text, Reply* reply);
// /debug/pprof/fds, /debug/pprof/threadcreate, /debug/pprof/mmap.
void ServeResource(Route route, SymbolCache* symbols, Reply* reply);

const char* StatusText(int status);

}  // namespace heapscope::runtime::http
