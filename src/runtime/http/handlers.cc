#include "runtime/http/handlers.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/raw_log.h"
#include "runtime/cpu_profile.h"
#include "runtime/proc_dir.h"
#include "runtime/resource_profiles.h"
#include "runtime/runtime.h"
#include "runtime/symbol_cache.h"
#include "runtime/thread_stacks.h"

namespace heapscope::runtime::http {

Text& Text::Str(const char* s) { return Str(s, strlen(s)); }

Text& Text::Str(const char* s, size_t n) {
  if (n > 0) (void)b_->Append(s, n);  // a failure shows in b_->failed()
  return *this;
}

Text& Text::Uint(uint64_t v) {
  char tmp[32];
  base::RawBuffer b(tmp, sizeof tmp);
  b.Uint(v);
  return Str(b.data(), b.size());
}

Text& Text::Int(int64_t v) {
  char tmp[32];
  base::RawBuffer b(tmp, sizeof tmp);
  b.Int(v);
  return Str(b.data(), b.size());
}

Text& Text::Hex(uint64_t v) {
  char tmp[32];
  base::RawBuffer b(tmp, sizeof tmp);
  b.Hex(v);
  return Str(b.data(), b.size());
}

Text& Text::Fixed3(uint64_t thousandths) {
  Uint(thousandths / 1000).Char('.');
  uint64_t f = thousandths % 1000;
  if (f < 100) Char('0');
  if (f < 10) Char('0');
  return Uint(f);
}

Text& Text::JsonString(const char* s, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  Char('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      Char('\\').Char(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      Str(esc, sizeof esc);
    } else {
      Char(static_cast<char>(c));
    }
  }
  return Char('"');
}

Route Lookup(Slice path) {
  if (path.Equals("/debug/pprof/") || path.Equals("/debug/pprof")) return Route::kIndex;
  if (path.Equals("/debug/pprof/heap")) return Route::kHeap;
  if (path.Equals("/debug/pprof/allocs")) return Route::kAllocs;
  if (path.Equals("/debug/pprof/cmdline")) return Route::kCmdline;
  if (path.Equals("/debug/pprof/symbol")) return Route::kSymbol;
  if (path.Equals("/debug/vars")) return Route::kVars;
  if (path.Equals("/metrics")) return Route::kMetrics;
  if (path.Equals("/debug/pprof/fds")) return Route::kFds;
  if (path.Equals("/debug/pprof/threadcreate")) return Route::kThreadcreate;
  if (path.Equals("/debug/pprof/mmap")) return Route::kMmap;
  // goroutine: the name scrapers of Go services ask for.
  if (path.Equals("/debug/pprof/threads") || path.Equals("/debug/pprof/goroutine"))
    return Route::kThreads;
  if (path.Equals("/debug/pprof/profile")) return Route::kProfile;
  return Route::kNotFound;
}

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 421:
      return "Misdirected Request";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

void ServeError(int status, const char* text, Reply* reply) {
  reply->status = status;
  reply->content_type = "text/plain; charset=utf-8";
  reply->attachment = nullptr;
  reply->body->Clear();
  Text(reply->body).Str(text).Char('\n');
}

namespace {

// A non-negative decimal number, all of s.
bool ParseDecimal(const char* s, uint64_t* out) {
  if (*s == '\0') return false;
  uint64_t v = 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9' || v > (~uint64_t{0} - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(*s - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool ParseHeapQuery(const Request& req, Route route, HeapQuery* q, Reply* reply) {
  *q = HeapQuery();
  q->allocs = route == Route::kAllocs;
  char v[32];
  uint64_t n;
  QueryStatus s = QueryValue(req.query, "debug", v, sizeof v);
  if (s == QueryStatus::kFound) {
    if (!ParseDecimal(v, &n)) {
      ServeError(400, "debug: expected a number (0 or 1)", reply);
      return false;
    }
    q->text = n != 0;
  } else if (s == QueryStatus::kInvalid) {
    ServeError(400, "debug: bad value", reply);
    return false;
  }
  s = QueryValue(req.query, "seconds", v, sizeof v);
  if (s == QueryStatus::kFound) {
    if (!ParseDecimal(v, &n) || n > kMaxDeltaSeconds) {
      ServeError(400, "seconds: expected a whole number of seconds, at most 600", reply);
      return false;
    }
    q->seconds = n;
  } else if (s == QueryStatus::kInvalid) {
    ServeError(400, "seconds: bad value", reply);
    return false;
  }
  return true;
}

bool ParseCpuSeconds(const Request& req, uint64_t* seconds, Reply* reply) {
  *seconds = kDefaultCpuSeconds;
  char v[32];
  uint64_t n;
  QueryStatus s = QueryValue(req.query, "seconds", v, sizeof v);
  if (s == QueryStatus::kFound) {
    if (!ParseDecimal(v, &n) || n < 1 || n > kMaxCpuSeconds) {
      ServeError(400, "seconds: expected a whole number of seconds from 1 to 300", reply);
      return false;
    }
    *seconds = n;
  } else if (s == QueryStatus::kInvalid) {
    ServeError(400, "seconds: bad value", reply);
    return false;
  }
  return true;
}

void ServeThreads(const Request& req, SymbolCache* symbols, Reply* reply) {
  char v[32];
  uint64_t debug = 0;
  QueryStatus s = QueryValue(req.query, "debug", v, sizeof v);
  if ((s == QueryStatus::kFound && !ParseDecimal(v, &debug)) || s == QueryStatus::kInvalid) {
    ServeError(400, "debug: expected a number (0, 1 or 2)", reply);
    return;
  }
  base::MmapBuffer stacks;
  size_t n = 0;
  if (const char* why = CaptureThreadStacks(&stacks, &n)) {
    ServeError(503, why, reply);
    return;
  }
  const auto* t = reinterpret_cast<const ThreadStack*>(stacks.data());
  BodySink sink(reply->body);
  bool ok;
  if (debug != 0) {
    ok = WriteThreadsText(&sink, t, n, debug >= 2 ? 2 : 1, symbols);
    reply->content_type = "text/plain; charset=utf-8";
  } else {
    ok = WriteThreadsProfileGz(&sink, t, n, symbols);
    reply->content_type = "application/octet-stream";
    reply->attachment = "threads";
  }
  if (!ok || reply->body->failed())
    ServeError(500, "could not write the profile (out of memory)", reply);
}

void ServeCpuProfile(SymbolCache* symbols, Reply* reply) {
  BodySink sink(reply->body);
  reply->content_type = "application/octet-stream";
  reply->attachment = "profile";
  if (!FinishCpuProfile(&sink, symbols) || reply->body->failed())
    ServeError(500, "could not write the profile (out of memory)", reply);
}

void ServeHeap(const HeapQuery& q, SymbolCache* symbols, const AllocBase* base, size_t nbase,
               uint64_t duration_ns, Reply* reply) {
  HeapProfileOptions o;
  o.alloc_default = q.allocs;
  o.symbols = symbols;
  o.alloc_base = base;
  o.alloc_base_count = nbase;
  o.duration_ns = duration_ns;
  BodySink sink(reply->body);
  bool ok;
  if (q.text) {
    ok = WriteHeapProfileText(&sink, o);
    reply->content_type = "text/plain; charset=utf-8";
  } else {
    ok = WriteHeapProfileGz(&sink, o);
    reply->content_type = "application/octet-stream";
    reply->attachment = base != nullptr ? (q.allocs ? "allocs-delta" : "heap-delta")
                                        : (q.allocs ? "allocs" : "heap");
  }
  if (!ok || reply->body->failed())
    ServeError(500, "could not write the profile (out of memory)", reply);
}

void ServeIndex(Reply* reply) {
  reply->content_type = "text/html; charset=utf-8";
  const State& g = GlobalState();
  Text t(reply->body);
  t.Str(
      "<html>\n<head>\n<title>/debug/pprof/</"
      "title>\n<style>\n.profile-name{\n\tdisplay:inline-block;\n"
      "\twidth:6rem;\n}\n</style>\n</head>\n<body>\n/debug/pprof/\n<br>\n"
      "<p>Set debug=1 as a query parameter to export in legacy text format</p>\n<br>\n"
      "Types of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n");
  uint64_t stacks = ComputeHeapTotals().stacks;
  t.Str("<tr><td>").Uint(stacks).Str("</td><td><a href='allocs?debug=1'>allocs</a></td></tr>\n");
  t.Str("<tr><td>").Uint(stacks).Str("</td><td><a href='heap?debug=1'>heap</a></td></tr>\n");
  ResourceCounts rc = CountResources();
  t.Str("<tr><td>").Uint(rc.fds).Str("</td><td><a href='fds'>fds</a></td></tr>\n");
  t.Str("<tr><td>").Uint(rc.mappings).Str("</td><td><a href='mmap'>mmap</a></td></tr>\n");
  t.Str("<tr><td>").Uint(rc.threads).Str("</td><td><a href='threadcreate'>threadcreate</a></td></tr>\n");
  t.Str("<tr><td></td><td><a href='threads?debug=1'>threads</a></td></tr>\n");
  t.Str("<tr><td></td><td><a href='profile'>profile</a></td></tr>\n");
  t.Str("</table>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n");
  t.Str(
      "<li><div class=profile-name>allocs: </div> A sampling of all past memory allocations"
      " (alloc_space is the default type). Add ?seconds=N for the allocations of the next N"
      " seconds.</li>\n");
  t.Str(
      "<li><div class=profile-name>heap: </div> A sampling of memory allocations of live"
      " objects (inuse_space is the default type). Add ?seconds=N for a delta profile.</li>\n");
  t.Str(
      "<li><div class=profile-name>fds: </div> Open file descriptors by the stack that"
      " created them, labelled with their kind (exact).</li>\n");
  t.Str(
      "<li><div class=profile-name>mmap: </div> Anonymous mappings the program made, by"
      " creating stack: count and bytes (exact).</li>\n");
  t.Str(
      "<li><div class=profile-name>threadcreate: </div> Live threads by the stack that"
      " created them, labelled with name, tid and state.</li>\n");
  t.Str(
      "<li><div class=profile-name>threads: </div> The current stack of every thread,"
      " labelled with its name and tid. Use debug=2 for each thread's symbolized stack as"
      " text.</li>\n");
  t.Str(
      "<li><div class=profile-name>profile: </div> CPU profile of every thread (100 Hz)."
      " You can specify the duration in the seconds GET parameter (default 30, at most"
      " 300). After you get the profile file, use the go tool pprof command to investigate"
      " the profile.</li>\n");
  t.Str(
      "<li><div class=profile-name><a href='cmdline'>cmdline</a>: </div> The command line"
      " of the program, NUL-separated.</li>\n");
  t.Str(
      "<li><div class=profile-name><a href='symbol'>symbol</a>: </div> Address to function"
      " name lookups, as go tool pprof asks for them.</li>\n");
  t.Str(
      "<li><div class=profile-name><a href='../vars'>/debug/vars</a>: </div> Memory and"
      " process figures as JSON.</li>\n");
  t.Str(
      "<li><div class=profile-name><a href='../../metrics'>/metrics</a>: </div> The same"
      " figures for Prometheus.</li>\n");
  t.Str("</ul>\n</p>\n<p>heapscope, pid ").Uint(static_cast<uint64_t>(g.pid)).Str(", sample rate ");
  t.Uint(g.config.rate <= 1 ? 1 : g.config.rate).Str(" bytes</p>\n</body>\n</html>\n");
}

void ServeCmdline(Reply* reply) {
  int fd = OpenProc("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ServeError(500, "cannot read /proc/self/cmdline", reply);
    return;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    Text(reply->body).Str(buf, static_cast<size_t>(n));
  }
  close(fd);
  // Go joins os.Args with NUL; the kernel also ends the last one with NUL.
  base::MmapBuffer& b = *reply->body;
  size_t n = b.size();
  if (n > 0 && b.data()[n - 1] == '\0') {
    base::MmapBuffer copy;
    (void)copy.Append(b.data(), n - 1);
    b.Clear();
    (void)b.Append(copy.data(), copy.size());
  }
}

void ServeSymbol(const Request& req, SymbolCache* symbols, Reply* reply) {
  // Go's protocol: "num_symbols: 1" says symbols are available; then one
  // "0xADDR name" line per address asked for (0xA+0xB+... in a POST body
  // or the query) that names a function.
  Text t(reply->body);
  t.Str("num_symbols: 1\n");
  Slice in = req.method.Equals("POST") ? req.body : req.query;
  const char* p = in.p;
  const char* end = in.p + in.n;
  while (p < end) {
    const char* plus = static_cast<const char*>(memchr(p, '+', static_cast<size_t>(end - p)));
    const char* w_end = plus != nullptr ? plus : end;
    uint64_t pc = 0;
    bool ok = w_end > p;
    const char* d = p;
    int base = 10;
    if (w_end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
      base = 16;
      d = p + 2;
    }
    for (; ok && d < w_end; d++) {
      int v;
      char c = *d;
      if (c >= '0' && c <= '9') {
        v = c - '0';
      } else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        v = (c | 0x20) - 'a' + 10;
      } else {
        ok = false;
        break;
      }
      if (pc > (~uint64_t{0} - static_cast<uint64_t>(v)) / static_cast<uint64_t>(base)) {
        ok = false;
        break;
      }
      pc = pc * static_cast<uint64_t>(base) + static_cast<uint64_t>(v);
    }
    char name[1024];
    if (ok && pc != 0 && SymbolizePc(symbols, static_cast<uintptr_t>(pc), name, sizeof name)) {
      t.Hex(pc).Char(' ').Str(name).Char('\n');
    }
    p = w_end + 1;
  }
}

void ServeResource(Route route, SymbolCache* symbols, Reply* reply) {
  ResourceProfile which = route == Route::kFds            ? ResourceProfile::kFds
                          : route == Route::kThreadcreate ? ResourceProfile::kThreads
                                                          : ResourceProfile::kMappings;
  BodySink sink(reply->body);
  reply->content_type = "application/octet-stream";
  reply->attachment = ResourceProfileName(which);
  if (!WriteResourceProfileGz(which, &sink, symbols) || reply->body->failed())
    ServeError(500, "could not write the profile (out of memory)", reply);
}

}  // namespace heapscope::runtime::http
