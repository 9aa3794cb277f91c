#include "runtime/http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include "base/clock.h"
#include "base/mmap_arena.h"
#include "base/raw_log.h"
#include "runtime/cpu_profile.h"
#include "runtime/http/handlers.h"
#include "runtime/http/request.h"
#include "runtime/proc_dir.h"
#include "runtime/profile_writer.h"
#include "runtime/runtime.h"
#include "runtime/symbol_cache.h"

namespace heapscope::runtime::http {
namespace {

constexpr uint64_t kSecond = 1000000000ULL;
constexpr uint64_t kReadTimeoutNs = 5 * kSecond;         // whole request, from accept
constexpr uint64_t kWriteIdleTimeoutNs = 5 * kSecond;    // no progress writing
constexpr uint64_t kWriteTotalTimeoutNs = 60 * kSecond;  // whole reply
constexpr uint64_t kDrainNs =
    1 * kSecond;  // reading leftovers before close, so no RST eats the reply
constexpr size_t kInCapacity = kMaxHeaderBytes + kMaxBodyBytes;

using base::MonoNs;

enum class ConnState { kFree, kReading, kWaiting, kWriting, kDraining };

struct Conn {
  int fd = -1;
  ConnState state = ConnState::kFree;
  uint64_t deadline = 0;  // of the current state
  uint64_t write_started = 0;
  char* in = nullptr;  // kInCapacity bytes, mapped on first use
  size_t in_len = 0;
  bool head_only = false;
  char head[1024];
  size_t head_len = 0;
  size_t sent = 0;  // of head + body
  base::MmapBuffer body;
  // A delta profile being waited for.
  base::MmapBuffer base;
  size_t nbase = 0;
  uint64_t base_ns = 0;
  HeapQuery heap;
  bool cpu = false;  // waiting for the CPU profile it started
};

struct Server {
  int listen_fd = -1;
  ListenAddress addr;
  char addr_text[128];
  char token[256];
  size_t token_len = 0;
  Conn conns[kMaxConnections];
  SymbolCache* symbols = nullptr;
  pthread_t thread;
};

Server* g_server = nullptr;
sem_t g_start_signal;
std::atomic<bool> g_started{false};

// Pausing the thread (PauseHttpThread), as the dumper pauses its own: asked,
// then the thread ends (kStopped) at the top of its loop, or Resume comes
// first and it goes on (kRun). Each side moves the state by
// compare-and-swap. Connections, delta bases and the CPU profile live in
// the Server, not on the thread, so a new thread takes up where it was.
enum : int { kRun, kStopAsked, kStopped };
std::atomic<int> g_stop{kRun};
int g_wake[2] = {-1, -1};  // written to by Pause: poll returns at once

// True when the thread is asked to stop and agrees (it then returns).
bool StopNow() {
  int asked = kStopAsked;
  return g_stop.load(std::memory_order_acquire) == kStopAsked &&
         g_stop.compare_exchange_strong(asked, kStopped);
}

void Log2(const char* a, const char* b, const char* c = "", const char* d = "") {
  char msg[768];
  base::RawBuffer m(msg, sizeof msg);
  m.Str(a).Str(b).Str(c).Str(d);
  base::RawLog(m.CStr());
}

// --- Replies ---------------------------------------------------------------

void StartReply(Server& s, Conn& c, Reply& r, uint64_t now) {
  base::RawBuffer h(c.head, sizeof c.head);
  size_t len = c.body.failed() ? 0 : c.body.size();
  h.Str("HTTP/1.1 ").Uint(static_cast<uint64_t>(r.status)).Char(' ').Str(StatusText(r.status));
  h.Str("\r\nContent-Type: ").Str(r.content_type);
  h.Str("\r\nContent-Length: ").Uint(len);
  h.Str("\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff");
  if (r.attachment != nullptr) {
    h.Str("\r\nContent-Disposition: attachment; filename=\"").Str(r.attachment).Char('"');
  }
  if (r.allow != nullptr) h.Str("\r\nAllow: ").Str(r.allow);
  if (r.auth_challenge) h.Str("\r\nWWW-Authenticate: Bearer realm=\"heapscope\"");
  h.Str("\r\n\r\n");
  c.head_len = h.size();
  if (c.head_only || c.body.failed()) c.body.Clear();
  c.sent = 0;
  c.state = ConnState::kWriting;
  c.write_started = now;
  c.deadline = now + kWriteIdleTimeoutNs;
}

void ReplyError(Server& s, Conn& c, int status, const char* text, uint64_t now) {
  Reply r;
  r.body = &c.body;
  ServeError(status, text, &r);
  if (status == 405) r.allow = "GET, HEAD, POST";
  if (status == 401) r.auth_challenge = true;
  StartReply(s, c, r, now);
}

// --- Security ----------------------------------------------------------------

bool Authorized(const Server& s, const Request& req) {
  if (s.token_len == 0) return true;
  if (const Slice* auth = req.Find("authorization")) {
    if (auth->StartsWithIgnoreCase("Bearer ")) {
      const char* t = auth->p + 7;
      size_t n = auth->n - 7;
      while (n > 0 && *t == ' ') {
        t++;
        n--;
      }
      if (ConstantTimeEquals(t, n, s.token, s.token_len)) return true;
    }
  }
  char q[sizeof s.token + 1];
  if (QueryValue(req.query, "token", q, sizeof q) == QueryStatus::kFound &&
      ConstantTimeEquals(q, strlen(q), s.token, s.token_len)) {
    return true;
  }
  return false;
}

// Without a token, a loopback server answers only requests addressed to a
// loopback name: a web page the user visits cannot read it through DNS
// rebinding (its requests carry the attacker's host name).
bool HostAllowed(const Server& s, const Request& req) {
  if (s.token_len != 0 || !s.addr.loopback) return true;
  const Slice* host = req.Find("host");
  if (host == nullptr) return true;  // HTTP/1.0; 1.1 without Host is refused by the parser
  Slice h = *host;
  // Drop ":port".
  if (h.n > 0 && h.p[0] == '[') {
    const char* close = static_cast<const char*>(memchr(h.p, ']', h.n));
    if (close == nullptr) return false;
    h.n = static_cast<size_t>(close - h.p) + 1;
  } else if (const char* colon = static_cast<const char*>(memchr(h.p, ':', h.n))) {
    h.n = static_cast<size_t>(colon - h.p);
  }
  if (h.EqualsIgnoreCase("localhost") || h.EqualsIgnoreCase("[::1]") ||
      h.EqualsIgnoreCase("localhost.")) {
    return true;
  }
  char tmp[64];
  if (h.n == 0 || h.n >= sizeof tmp) return false;
  memcpy(tmp, h.p, h.n);
  tmp[h.n] = '\0';
  struct in_addr a4;
  return inet_pton(AF_INET, tmp, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

// --- Requests ----------------------------------------------------------------

void FinishHeap(Server& s, Conn& c, uint64_t now) {
  Reply r;
  r.body = &c.body;
  const AllocBase* base = c.nbase > 0 ? reinterpret_cast<const AllocBase*>(c.base.data()) : nullptr;
  // A delta over a program that had no stacks yet: every stack is new.
  static const AllocBase kEmpty{0, 0};
  if (c.heap.seconds > 0 && base == nullptr) base = &kEmpty;
  ServeHeap(c.heap, s.symbols, base, c.nbase, c.heap.seconds > 0 ? now - c.base_ns : 0, &r);
  StartReply(s, c, r, now);
  c.base.~MmapBuffer();
  new (&c.base) base::MmapBuffer();
  c.nbase = 0;
}

void FinishCpu(Server& s, Conn& c, uint64_t now) {
  Reply r;
  r.body = &c.body;
  c.cpu = false;
  ServeCpuProfile(s.symbols, &r);
  StartReply(s, c, r, now);
}

void HandleRequest(Server& s, Conn& c, const Request& req, uint64_t now) {
  bool get = req.method.Equals("GET");
  bool head = req.method.Equals("HEAD");
  bool post = req.method.Equals("POST");
  c.head_only = head;
  if (!Authorized(s, req)) {
    ReplyError(s, c, 401, "unauthorized: send Authorization: Bearer TOKEN (or ?token=TOKEN)", now);
    return;
  }
  if (!HostAllowed(s, req)) {
    ReplyError(s, c, 403, "forbidden: Host is not a loopback name", now);
    return;
  }
  Route route = Lookup(req.path);
  if (route == Route::kNotFound) {
    ReplyError(s, c, 404, "404 page not found", now);
    return;
  }
  if (!(get || head || (post && route == Route::kSymbol))) {
    Reply r;
    r.body = &c.body;
    ServeError(405, "method not allowed", &r);
    r.allow = route == Route::kSymbol ? "GET, HEAD, POST" : "GET, HEAD";
    StartReply(s, c, r, now);
    return;
  }
  Reply r;
  r.body = &c.body;
  switch (route) {
    case Route::kHeap:
    case Route::kAllocs:
      if (!ParseHeapQuery(req, route, &c.heap, &r)) break;
      if (c.heap.seconds > 0) {
        // Counters now; the profile when the time is up. The connection
        // waits in poll, so other clients are served meanwhile.
        c.nbase = CaptureAllocBase(&c.base);
        c.base_ns = now;
        c.state = ConnState::kWaiting;
        c.deadline = now + c.heap.seconds * kSecond;
        return;
      }
      FinishHeap(s, c, now);
      return;
    case Route::kProfile: {
      uint64_t seconds;
      if (!ParseCpuSeconds(req, &seconds, &r)) break;
      if (c.head_only) break;  // HEAD: no profile is taken
      const char* why = "";
      CpuStart started = StartCpuProfile(&why);
      if (started != CpuStart::kStarted) {
        ServeError(started == CpuStart::kBusy ? 409 : 503, why, &r);
        break;
      }
      c.cpu = true;
      c.state = ConnState::kWaiting;
      // From the profile's own start (later than `now`, this loop's turn):
      // it then lasts the seconds asked for, as its Duration says.
      c.deadline = MonoNs() + seconds * kSecond;
      return;
    }
    case Route::kThreads:
      ServeThreads(req, s.symbols, &r);
      break;
    case Route::kIndex:
      ServeIndex(&r);
      break;
    case Route::kCmdline:
      ServeCmdline(&r);
      break;
    case Route::kSymbol:
      ServeSymbol(req, s.symbols, &r);
      break;
    case Route::kVars:
      ServeVars(&r);
      break;
    case Route::kMetrics:
      ServeMetrics(&r);
      break;
    case Route::kFds:
    case Route::kThreadcreate:
    case Route::kMmap:
      ServeResource(route, s.symbols, &r);
      break;
    case Route::kNotFound:
      break;
  }
  StartReply(s, c, r, now);
}

// --- Connections -------------------------------------------------------------

void CloseConn(Conn& c) {
  if (c.cpu) AbortCpuProfile();  // its client went away
  c.cpu = false;
  if (c.fd >= 0) CloseOwnFd(c.fd);
  c.fd = -1;
  c.state = ConnState::kFree;
  c.in_len = 0;
  // Give large bodies back; keep the input buffer for the next client.
  c.body.~MmapBuffer();
  new (&c.body) base::MmapBuffer();
  c.base.~MmapBuffer();
  new (&c.base) base::MmapBuffer();
  c.nbase = 0;
}

void OnReadable(Server& s, Conn& c, uint64_t now) {
  bool saw_newline = false;
  for (;;) {
    if (c.in_len >= kInCapacity) break;
    ssize_t n = recv(c.fd, c.in + c.in_len, kInCapacity - c.in_len, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {  // closed or failed before a whole request
      CloseConn(c);
      return;
    }
    if (memchr(c.in + c.in_len, '\n', static_cast<size_t>(n)) != nullptr) saw_newline = true;
    c.in_len += static_cast<size_t>(n);
  }
  // Nothing can complete (or fail) without a new line ending, except the
  // size limits and a pending body.
  if (!saw_newline && c.in_len < kMaxHeaderBytes && memchr(c.in, '\n', c.in_len) == nullptr) return;
  Request req;
  ParseResult r = ParseRequest(c.in, c.in_len, &req);
  if (r.status == ParseStatus::kIncomplete) return;
  if (r.status == ParseStatus::kError) {
    ReplyError(s, c, r.http_status, r.reason, now);
    return;
  }
  HandleRequest(s, c, req, now);
}

void OnWritable(Conn& c, uint64_t now) {
  for (;;) {
    size_t total = c.head_len + c.body.size();
    if (c.sent >= total) {
      // Done: half-close and read what the client may still send, so the
      // kernel does not answer it with a reset that loses our reply.
      shutdown(c.fd, SHUT_WR);
      c.state = ConnState::kDraining;
      c.deadline = now + kDrainNs;
      return;
    }
    const void* p;
    size_t n;
    if (c.sent < c.head_len) {
      p = c.head + c.sent;
      n = c.head_len - c.sent;
    } else {
      p = c.body.data() + (c.sent - c.head_len);
      n = total - c.sent;
    }
    ssize_t w = send(c.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (w <= 0) {
      CloseConn(c);
      return;
    }
    c.sent += static_cast<size_t>(w);
    c.deadline = now + kWriteIdleTimeoutNs;
    if (c.deadline > c.write_started + kWriteTotalTimeoutNs) {
      c.deadline = c.write_started + kWriteTotalTimeoutNs;
    }
  }
}

void OnDrain(Conn& c) {
  char sink[4096];
  for (int i = 0; i < 64; i++) {
    ssize_t n = recv(c.fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;  // EOF or error
  }
  CloseConn(c);
}

void Accept(Server& s, uint64_t now) {
  for (;;) {
    int fd = accept4(s.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or out of descriptors: try again on the next poll
    }
    // Out of the numbers the program uses, and out of its close() calls
    // (proc_dir.h).
    fd = MoveToHighFd(fd);
    RegisterOwnFd(fd);
    Conn* slot = nullptr;
    for (Conn& c : s.conns) {
      if (c.state == ConnState::kFree) {
        slot = &c;
        break;
      }
    }
    if (slot == nullptr) {
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
          "Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections\n";
      ssize_t w = send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)w;
      CloseOwnFd(fd);
      continue;
    }
    if (slot->in == nullptr) {
      slot->in = static_cast<char*>(base::MapPages(kInCapacity));
      if (slot->in == nullptr) {
        CloseOwnFd(fd);
        continue;
      }
    }
    slot->fd = fd;
    slot->state = ConnState::kReading;
    slot->in_len = 0;
    slot->deadline = now + kReadTimeoutNs;
  }
}

void Serve(Server& s) {
  struct pollfd fds[kMaxConnections + 2];
  Conn* owners[kMaxConnections + 2];
  for (;;) {
    if (StopNow()) return;
    uint64_t now = MonoNs();
    int nfds = 0;
    fds[nfds] = {s.listen_fd, POLLIN, 0};
    owners[nfds++] = nullptr;
    const int wake_index = nfds;
    fds[nfds] = {g_wake[0], POLLIN, 0};  // -1 (ignored by poll) when there is none
    owners[nfds++] = nullptr;
    uint64_t next = now + kSecond;
    for (Conn& c : s.conns) {
      if (c.state == ConnState::kFree) continue;
      short events = 0;
      switch (c.state) {
        case ConnState::kReading:
          events = POLLIN;
          break;
        case ConnState::kWriting:
          events = POLLOUT;
          break;
        case ConnState::kDraining:
          events = POLLIN;
          break;
        default:
          // Waiting: only the client going away (as Go's server cancels
          // the request when the connection reads EOF).
          events = POLLRDHUP;
          break;
      }
      fds[nfds] = {c.fd, events, 0};
      owners[nfds++] = &c;
      if (c.deadline < next) next = c.deadline;
    }
    // A CPU profile: the ring is drained and new threads armed often.
    bool cpu = CpuProfileRunning();
    if (cpu && next > now + 50000000ULL) next = now + 50000000ULL;
    int timeout_ms = next > now ? static_cast<int>((next - now + 999999) / 1000000) : 0;
    int ready = poll(fds, static_cast<nfds_t>(nfds), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, nullptr);  // never spin
      continue;
    }
    now = MonoNs();
    if (cpu) TickCpuProfile();
    if (ready > 0 && (fds[wake_index].revents & POLLIN) != 0) {
      char drain[16];
      while (syscall(SYS_read, g_wake[0], drain, sizeof drain) > 0) {
      }
    }
    for (int i = wake_index + 1; i < nfds; i++) {
      Conn& c = *owners[i];
      short re = ready > 0 ? fds[i].revents : 0;
      if (c.state == ConnState::kReading) {
        if (re & (POLLIN | POLLHUP | POLLERR)) OnReadable(s, c, now);
        if (c.state == ConnState::kReading && now >= c.deadline) {
          ReplyError(s, c, 408, "request timeout", now);
        }
      } else if (c.state == ConnState::kWaiting) {
        if (re & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) {
          CloseConn(c);
        } else if (now >= c.deadline) {
          if (c.cpu) {
            FinishCpu(s, c, now);
          } else {
            FinishHeap(s, c, now);
          }
        }
      } else if (c.state == ConnState::kWriting) {
        if (re & (POLLOUT | POLLHUP | POLLERR)) OnWritable(c, now);
        if (c.state == ConnState::kWriting && now >= c.deadline) CloseConn(c);
      } else if (c.state == ConnState::kDraining) {
        if (re & (POLLIN | POLLHUP | POLLERR)) OnDrain(c);
        if (c.state == ConnState::kDraining && now >= c.deadline) CloseConn(c);
      }
      // A reply produced above (errors, timeouts) starts going out at once.
      if (c.state == ConnState::kWriting && c.sent == 0) OnWritable(c, now);
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) Accept(s, now);
  }
}

// --- Start ---------------------------------------------------------------------

bool Listen(Server& s) {
  int fd = socket(s.addr.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Log2("HEAPSCOPE_HTTP=", s.addr_text, ": cannot create a socket: ", strerror(errno));
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s.addr.addr.ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&s.addr.addr), s.addr.len) != 0 ||
      listen(fd, 16) != 0) {
    Log2("HEAPSCOPE_HTTP=", s.addr_text, ": cannot listen: ", strerror(errno));
    close(fd);
    return false;
  }
  s.listen_fd = MoveToHighFd(fd);
  RegisterOwnFd(s.listen_fd);
  return true;
}

void AnnounceAddress(const Server& s) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  bool v6 = ss.ss_family == AF_INET6;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  }
  char msg[256];
  base::RawBuffer m(msg, sizeof msg);
  m.Str("serving http://").Str(v6 ? "[" : "").Str(host).Str(v6 ? "]" : "").Char(':');
  m.Uint(port).Str("/debug/pprof/");
  base::RawLog(m.CStr());
}

void* ServerMain(void* arg) {
  RecursionGuard guard;  // for its whole life: nothing it allocates is recorded
  pthread_setname_np(pthread_self(), "heapscope-http");
  tls_runtime_thread = true;
  GlobalState().http_tid.store(static_cast<int32_t>(gettid()), std::memory_order_relaxed);
  Server& s = *static_cast<Server*>(arg);
  if (s.listen_fd < 0) {
    // Started by signal: wait for it, then listen. A pause posts too.
    while (sem_wait(&g_start_signal) != 0) {
    }
    if (StopNow()) return nullptr;
    if (!Listen(s)) return nullptr;
    AnnounceAddress(s);
  }
  Serve(s);
  return nullptr;
}

bool StartServerThread(Server* s) {
  g_stop.store(kRun);
  bool ok = StartOwnThread(&s->thread, ServerMain, s, 512 * 1024);
  ThisProcess().http_thread.store(ok);
  return ok;
}

void OnStartSignal(int) {
  int saved = errno;
  sem_post(&g_start_signal);
  errno = saved;
}

// Forked children have no server thread; they drop the sockets so the
// port is the parent's alone.
void ForkChild() {
  CpuProfileForkChild();
  GlobalState().http_tid.store(0, std::memory_order_relaxed);
  ThisProcess().http_thread.store(false);
  g_stop.store(kRun);
  Server* s = g_server;
  if (s == nullptr) return;
  if (s->listen_fd >= 0) CloseOwnFd(s->listen_fd);
  s->listen_fd = -1;
  for (int& fd : g_wake) {
    if (fd >= 0) CloseOwnFd(fd);
    fd = -1;
  }
  for (Conn& c : s->conns) {
    if (c.fd >= 0) CloseOwnFd(c.fd);
    c.fd = -1;
    c.state = ConnState::kFree;
    c.cpu = false;
  }
}

bool InstallStartSignal(int sig) {
  struct sigaction old;
  if (sigaction(sig, nullptr, &old) != 0) return false;
  if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) return false;  // keep theirs
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnStartSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  return sigaction(sig, &sa, nullptr) == 0;
}

}  // namespace

bool ParseListenAddress(const char* text, ListenAddress* out, const char** why) {
  *out = ListenAddress();
  memset(&out->addr, 0, sizeof out->addr);
  size_t n = strlen(text);
  const char* port_text = nullptr;
  char host[64] = "";
  if (text[0] == '[') {
    const char* close = strchr(text, ']');
    if (close == nullptr || close[1] != ':' ||
        static_cast<size_t>(close - text - 1) >= sizeof host) {
      *why = "expected [IPv6]:PORT";
      return false;
    }
    memcpy(host, text + 1, static_cast<size_t>(close - text - 1));
    host[close - text - 1] = '\0';
    port_text = close + 2;
  } else if (const char* colon = strrchr(text, ':')) {
    if (static_cast<size_t>(colon - text) >= sizeof host) {
      *why = "address too long";
      return false;
    }
    memcpy(host, text, static_cast<size_t>(colon - text));
    host[colon - text] = '\0';
    port_text = colon + 1;
  } else {
    port_text = text;
  }
  if (n == 0 || *port_text == '\0') {
    *why = "expected ADDR:PORT, e.g. 127.0.0.1:6060";
    return false;
  }
  uint64_t port = 0;
  for (const char* p = port_text; *p != '\0'; p++) {
    if (*p < '0' || *p > '9' || port > 65535) {
      *why = "bad port: expected ADDR:PORT, e.g. 127.0.0.1:6060";
      return false;
    }
    port = port * 10 + static_cast<uint64_t>(*p - '0');
  }
  if (port > 65535) {
    *why = "port out of range";
    return false;
  }
  out->any_port = port == 0;
  if (host[0] == '\0' || strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out->addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    out->len = sizeof(sockaddr_in);
    out->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return true;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    out->len = sizeof(sockaddr_in6);
    out->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) && a6->sin6_addr.s6_addr[12] == 127);
    return true;
  }
  *why = "expected a numeric IPv4 or [IPv6] address or localhost (no DNS lookups)";
  return false;
}

void StartHttpServer() {
  const State& g = GlobalState();
  const Config& c = g.config;
  // Only the first process serves: exec'd descendants inherit the
  // environment but not the port.
  if (!g.is_main_process || g_started.exchange(true)) return;
  bool by_signal = c.http_signal > 0;
  if (c.http_addr[0] == '\0' && !by_signal) return;
  const char* text = c.http_addr[0] != '\0' ? c.http_addr : kDefaultAddress;

  void* mem = base::MapPages(sizeof(Server));
  if (mem == nullptr) {
    base::RawLog("cannot map memory for the HTTP endpoint; it is off");
    return;
  }
  Server* s = new (mem) Server();
  base::RawBuffer at(s->addr_text, sizeof s->addr_text);
  at.Str(text).CStr();
  const char* why = "";
  if (!ParseListenAddress(text, &s->addr, &why)) {
    Log2("ignoring HEAPSCOPE_HTTP=", text, ": ", why);
    return;
  }
  s->token_len = strlen(c.http_token);
  memcpy(s->token, c.http_token, s->token_len + 1);
  if (!s->addr.loopback && s->token_len == 0) {
    Log2("HEAPSCOPE_HTTP=", text,
         " is not a loopback address: set HEAPSCOPE_TOKEN to serve beyond this machine; the "
         "endpoint "
         "is off",
         "");
    return;
  }
  if (!by_signal) {
    if (!Listen(*s)) return;
    if (s->addr.any_port) AnnounceAddress(*s);
  } else {
    sem_init(&g_start_signal, 0, 0);
    if (!InstallStartSignal(c.http_signal)) {
      base::RawLog(
          "HEAPSCOPE_HTTP_SIGNAL: the program handles that signal itself; the endpoint is off");
      return;
    }
  }
  // Made here, not by the thread: a chroot() right after start finds it
  // registered and loads its tables (LoadAllSymbols).
  s->symbols = NewSymbolCache();
  if (syscall(SYS_pipe2, g_wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    g_wake[0] = g_wake[1] = -1;
  } else {
    for (int& fd : g_wake) {
      fd = MoveToHighFd(fd);
      RegisterOwnFd(fd);
    }
  }
  g_server = s;
  RegisterForkHandlers(nullptr, nullptr, ForkChild);
  if (!StartServerThread(s)) {
    base::RawLog("cannot start the HTTP endpoint thread; it is off");
    if (s->listen_fd >= 0) CloseOwnFd(s->listen_fd);
    s->listen_fd = -1;
  }
}

bool HttpThreadRunning() { return ThisProcess().http_thread.load(); }

bool PauseHttpThread() {
  Server* s = g_server;
  if (s == nullptr || !ThisProcess().http_thread.load()) return true;
  State& g = GlobalState();
  // The thread notes its tid as its first act; one just started may not
  // have yet.
  uint64_t deadline = MonoNs() + kSecond;
  int32_t tid;
  while ((tid = g.http_tid.load(std::memory_order_acquire)) == 0 && MonoNs() < deadline) {
    sched_yield();
  }
  g_stop.store(kStopAsked);
  char one = 1;
  if (g_wake[1] >= 0) syscall(SYS_write, g_wake[1], &one, 1);
  if (s->listen_fd < 0) sem_post(&g_start_signal);  // waiting for its start signal
  // A profile being built finishes first: seconds at most.
  deadline = MonoNs() + 10 * kSecond;
  while (g_stop.load() == kStopAsked && MonoNs() < deadline) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, nullptr);
  }
  if (g_stop.load() != kStopped) return false;
  ThisProcess().http_thread.store(false);
  // Gone from the kernel's view, not just returning.
  bool gone = tid != 0 && WaitThreadGone(tid, kSecond);
  g.http_tid.compare_exchange_strong(tid, 0);
  return gone;
}

void ResumeHttpThread() {
  Server* s = g_server;
  // Not once a seccomp filter is in: a thread started now could be bound.
  if (s == nullptr || GlobalState().sandboxed.load() || GlobalState().filtered.load()) return;
  int asked = kStopAsked;
  if (g_stop.compare_exchange_strong(asked, kRun)) return;  // it had not stopped: it goes on
  if (g_stop.load() == kStopped && !ThisProcess().http_thread.load()) StartServerThread(s);
}

}  // namespace heapscope::runtime::http
