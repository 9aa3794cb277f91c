// The live endpoint's server: one thread, plain sockets, poll. It binds to
// loopback unless told otherwise, refuses other addresses without a token,
// bounds every request (size, header count, time) and serves at most
// kMaxConnections clients at once; profiles are built on its thread from
// the depot's lock-free counters, so the program's threads never wait for it.
#pragma once

#include <sys/socket.h>

#include <cstddef>

namespace heapscope::runtime::http {

inline constexpr int kMaxConnections = 8;
inline constexpr const char* kDefaultAddress = "127.0.0.1:6060";

struct ListenAddress {
  sockaddr_storage addr;
  socklen_t len = 0;
  bool loopback = false;
  bool any_port = false;  // port 0: the kernel picks one (and we print it)
};

// Parses "ADDR:PORT" where ADDR is an IPv4 address, "[IPv6]" or
// "localhost"; "PORT" and ":PORT" mean 127.0.0.1:PORT (loopback by
// default, unlike Go, where ":PORT" means every interface). No DNS.
// Returns false with *why set on anything else.
bool ParseListenAddress(const char* text, ListenAddress* out, const char** why);

// Starts the endpoint as the configuration asks (HEAPSCOPE_HTTP,
// HEAPSCOPE_TOKEN, HEAPSCOPE_HTTP_SIGNAL); called once from the library
// constructor after the dumper. Problems are reported in one line on
// stderr and the program runs on without the endpoint.
void StartHttpServer();

// As PauseDumpThread/ResumeDumpThread (dumper.h), for the endpoint's
// thread: unshare(CLONE_NEWUSER) and setns() into a user or mount
// namespace need a process with one thread. Requests in progress are kept
// (their state is not the thread's) and served after Resume.
// Whether the server's thread runs (its tid may not be noted yet).
bool HttpThreadRunning();

bool PauseHttpThread();
void ResumeHttpThread();

}  // namespace heapscope::runtime::http
