// bench-server: a server-like request loop, two threads by default.
//
// For each request: render the request text a client would send, parse it
// into a per-request arena (std::pmr::monotonic_buffer_resource over
// operator new: a few growing blocks per request, all released together),
// build a response with ordinary std::string work, and update a little
// long-lived state (a bounded session table with FIFO eviction and per-route
// counters) that survives across requests.
#include <cstdio>
#include <deque>
#include <memory_resource>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "workload_common.h"

namespace {

constexpr uint64_t kBaseRequestsPerThread = 600'000;
constexpr size_t kMaxSessions = 50'000;
constexpr const char* kRoutes[] = {"/api/items", "/api/search", "/api/cart", "/api/user",
                                   "/static/app.js"};

struct ParsedRequest {
  explicit ParsedRequest(std::pmr::memory_resource* arena)
      : method(arena), path(arena), query(arena), headers(arena), body(arena) {}

  std::pmr::string method;
  std::pmr::string path;
  std::pmr::vector<std::pair<std::pmr::string, std::pmr::string>> query;
  std::pmr::unordered_map<std::pmr::string, std::pmr::string> headers;
  std::pmr::string body;
};

struct Session {
  std::string user;
  uint64_t requests = 0;
  uint64_t bytes = 0;
};

std::string RenderRequest(bench::Rng& rng, uint64_t sequence) {
  const char* route = kRoutes[rng.Below(std::size(kRoutes))];
  const uint64_t session = rng.Below(200'000);
  char line[256];
  std::string text;
  std::snprintf(line, sizeof(line), "%s %s?id=%llu&page=%llu&sort=price HTTP/1.1\r\n",
                rng.Below(5) == 0 ? "POST" : "GET", route,
                static_cast<unsigned long long>(rng.Below(1'000'000)),
                static_cast<unsigned long long>(rng.Below(50)));
  text += line;
  text += "Host: shop.example\r\nUser-Agent: bench-client/2.0\r\nAccept: */*\r\n";
  std::snprintf(line, sizeof(line), "Cookie: sid=%016llx\r\nX-Request-Id: %llu\r\n",
                static_cast<unsigned long long>(session),
                static_cast<unsigned long long>(sequence));
  text += line;
  const size_t body_size = rng.Below(4) == 0 ? rng.Between(32, 2048) : 0;
  std::snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", body_size);
  text += line;
  text.append(body_size, static_cast<char>('a' + sequence % 26));
  return text;
}

bool Parse(std::string_view raw, ParsedRequest& request) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  std::string_view head = raw.substr(0, head_end);
  request.body.assign(raw.substr(head_end + 4));

  size_t end = head.find("\r\n");
  const std::string_view request_line = head.substr(0, end);
  head = end == std::string_view::npos ? std::string_view() : head.substr(end + 2);
  const size_t space1 = request_line.find(' ');
  const size_t space2 = request_line.rfind(' ');
  if (space1 == std::string_view::npos || space2 == space1) return false;
  request.method.assign(request_line.substr(0, space1));
  std::string_view target = request_line.substr(space1 + 1, space2 - space1 - 1);
  const size_t question = target.find('?');
  request.path.assign(target.substr(0, question));
  std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    request.query.emplace_back(pair.substr(0, eq),
                               eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
  }
  while (!head.empty()) {
    end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head = end == std::string_view::npos ? std::string_view() : head.substr(end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    request.headers.emplace(line.substr(0, colon), value);
  }
  return true;
}

std::string BuildResponse(const ParsedRequest& request, const Session& session) {
  std::vector<std::string> parts;
  parts.push_back("{\"path\":\"" + std::string(request.path) + "\"");
  for (const auto& [name, value] : request.query) {
    parts.push_back("\"" + std::string(name) + "\":\"" + std::string(value) + "\"");
  }
  parts.push_back("\"user\":\"" + session.user + "\"");
  parts.push_back("\"visits\":" + std::to_string(session.requests));
  std::string body;
  for (const std::string& part : parts) {
    body += part;
    body += ',';
  }
  body += "\"echo\":" + std::to_string(request.body.size()) + "}";
  std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ";
  response += std::to_string(body.size());
  response += "\r\n\r\n";
  response += body;
  return response;
}

uint64_t RunThread(uint64_t seed, uint64_t requests) {
  bench::Rng rng(seed);
  // Long-lived state: survives across requests.
  std::unordered_map<std::string, Session> sessions;
  std::deque<std::string> session_order;
  std::unordered_map<std::string, uint64_t> route_counts;
  uint64_t checksum = 0;

  for (uint64_t sequence = 0; sequence < requests; ++sequence) {
    const std::string raw = RenderRequest(rng, sequence);
    std::pmr::monotonic_buffer_resource arena(1024, std::pmr::new_delete_resource());
    ParsedRequest request(&arena);
    if (!Parse(raw, request)) {
      checksum = bench::MixChecksum(checksum, 400);
      continue;
    }
    const auto cookie = request.headers.find(std::pmr::string("Cookie", &arena));
    std::string session_id =
        cookie == request.headers.end() ? "anonymous" : std::string(cookie->second);
    auto [it, inserted] = sessions.try_emplace(session_id);
    if (inserted) {
      it->second.user = "user-" + session_id.substr(session_id.size() - 6);
      session_order.push_back(session_id);
      if (session_order.size() > kMaxSessions) {
        sessions.erase(session_order.front());  // Never the entry just added.
        session_order.pop_front();
      }
    }
    Session& session = it->second;
    ++session.requests;
    const std::string response = BuildResponse(request, session);
    session.bytes += response.size();
    ++route_counts[std::string(request.path)];
    checksum = bench::MixChecksum(checksum, response.size() + session.requests);
  }
  for (const auto& [route, count] : route_counts) {
    checksum = bench::MixChecksum(checksum, route.size() * count);
  }
  return bench::MixChecksum(checksum, sessions.size());
}

}  // namespace

int main(int argc, char** argv) {
  const bench::WorkloadArgs args = bench::ParseArgs(argc, argv, "server", 2, true);
  const uint64_t per_thread = bench::Scaled(kBaseRequestsPerThread, args.scale);
  bench::Stopwatch stopwatch;

  std::vector<uint64_t> checksums(static_cast<size_t>(args.threads));
  std::vector<std::thread> threads;
  for (int i = 0; i < args.threads; ++i) {
    threads.emplace_back([&checksums, i, per_thread] {
      checksums[static_cast<size_t>(i)] = RunThread(0x5E7u + static_cast<uint64_t>(i), per_thread);
    });
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t checksum = 0;
  for (uint64_t value : checksums) checksum = bench::MixChecksum(checksum, value);
  bench::PrintResult("server", args, per_thread * static_cast<uint64_t>(args.threads), checksum,
                     stopwatch.Seconds());
  return 0;
}
