#include "request.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace demo {
namespace {

constexpr std::array<std::string_view, 32> kWords = {
    "alpha",  "bravo",   "cobalt", "delta",  "ember", "falcon", "granite", "harbor",
    "indigo", "juniper", "kelp",   "lumen",  "maple", "nickel", "onyx",    "pepper",
    "quartz", "raven",   "sable",  "tundra", "umber", "violet", "willow",  "xenon",
    "yarrow", "zephyr",  "amber",  "birch",  "cedar", "dune",   "fjord",   "grove"};

constexpr std::array<std::string_view, 4> kLanguages = {"en", "de", "fr", "ja"};

constexpr int kTopicCount = 32;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded;
}

void ParseQuery(std::string_view query, StringMap& out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out.insert_or_assign(UrlDecode(pair), std::string());
    } else {
      out.insert_or_assign(UrlDecode(pair.substr(0, eq)), UrlDecode(pair.substr(eq + 1)));
    }
  }
}

Route RouteFor(std::string_view method, std::string_view path) {
  if (method == "GET" && path.starts_with("/api/v1/items/")) return Route::kGetItem;
  if (method == "GET" && path == "/api/v1/search") return Route::kSearch;
  if (method == "POST" && path == "/api/v1/subscribe") return Route::kSubscribe;
  if (method == "POST" && path == "/api/v1/events") return Route::kPublish;
  return Route::kNotFound;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    default:
      return "Unknown";
  }
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view Request::Query(std::string_view name) const {
  const auto it = query.find(name);
  return it == query.end() ? std::string_view() : std::string_view(it->second);
}

RequestGenerator::RequestGenerator(int worker_index, uint64_t seed)
    : worker_index_(worker_index), random_(seed) {}

void RequestGenerator::AppendFilterBody(std::string& out, size_t size) {
  const size_t start = out.size();
  out += "{\"match\":[";
  while (out.size() - start + 16 < size) {
    out += '"';
    out += kWords[random_.Below(kWords.size())];
    out += "\",";
  }
  out += "\"*\"]}";
}

std::string RequestGenerator::Next(int64_t tenant_epoch) {
  ++sequence_;
  const uint64_t pick = random_.Below(1000);
  std::string target;
  std::string body;
  const char* method = "GET";
  if (pick < 750) {
    // Item ids skewed towards small values, like real popularity.
    const uint64_t item = random_.Below(random_.Between(1, 100000));
    target = "/api/v1/items/" + std::to_string(item) +
             "?lang=" + std::string(kLanguages[random_.Below(kLanguages.size())]) +
             "&fields=summary,price,stock";
  } else if (pick < 860) {
    target = "/api/v1/search?limit=20&q=";
    const uint64_t words = random_.Between(1, 4);
    for (uint64_t i = 0; i < words; ++i) {
      if (i > 0) target += '+';
      target += kWords[random_.Below(kWords.size())];
    }
  } else if (pick < 985) {
    method = "POST";
    target = "/api/v1/subscribe?topic=orders-" + std::to_string(random_.Below(kTopicCount));
    AppendFilterBody(body, random_.Between(1024, 6144));
  } else {
    method = "POST";
    target = "/api/v1/events?topic=orders-" + std::to_string(random_.Below(kTopicCount));
    body = "{\"event\":\"order.updated\",\"tags\":[\"";
    body += kWords[random_.Below(kWords.size())];
    body += "\"],\"detail\":\"";
    body.append(random_.Between(64, 512), 'x');
    body += "\"}";
  }

  const int64_t tenant =
      std::max<int64_t>(0, tenant_epoch - static_cast<int64_t>(random_.Below(4)));
  char request_id[40];
  std::snprintf(request_id, sizeof(request_id), "req-%d-%010llu", worker_index_,
                static_cast<unsigned long long>(sequence_));
  char cookie[33];
  std::snprintf(cookie, sizeof(cookie), "%016llx%016llx",
                static_cast<unsigned long long>(random_.Next()),
                static_cast<unsigned long long>(random_.Next()));
  char client_ip[32];
  std::snprintf(
      client_ip, sizeof(client_ip), "10.%u.%u.%u", static_cast<unsigned>(random_.Below(256)),
      static_cast<unsigned>(random_.Below(256)), static_cast<unsigned>(random_.Below(256)));

  std::string text;
  text.reserve(400 + body.size());
  text += method;
  text += ' ';
  text += target;
  text += " HTTP/1.1\r\nHost: demo.internal\r\nUser-Agent: demo-client/1.4 (worker ";
  text += std::to_string(worker_index_);
  text += ")\r\nAccept: application/json\r\nAccept-Language: en-US,en;q=0.8\r\nX-Request-Id: ";
  text += request_id;
  text += "\r\nX-Tenant: ";
  text += std::to_string(tenant);
  text += "\r\nX-Forwarded-For: ";
  text += client_ip;
  text += "\r\nCookie: session=";
  text += cookie;
  text += "\r\nContent-Length: ";
  text += std::to_string(body.size());
  text += "\r\n\r\n";
  text += body;
  return text;
}

std::optional<Request> ParseRequest(std::string_view raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return std::nullopt;
  std::string_view head = raw.substr(0, head_end);
  const std::string_view body = raw.substr(head_end + 4);

  const size_t line_end = head.find("\r\n");
  const std::string_view request_line = head.substr(0, line_end);
  head = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);

  const size_t first_space = request_line.find(' ');
  const size_t last_space = request_line.rfind(' ');
  if (first_space == std::string_view::npos || last_space == first_space) return std::nullopt;
  if (!request_line.substr(last_space + 1).starts_with("HTTP/1.")) return std::nullopt;

  Request request;
  request.method = std::string(request_line.substr(0, first_space));
  const std::string_view target =
      request_line.substr(first_space + 1, last_space - first_space - 1);
  const size_t question = target.find('?');
  request.path = UrlDecode(target.substr(0, question));
  if (question != std::string_view::npos) ParseQuery(target.substr(question + 1), request.query);

  while (!head.empty()) {
    const size_t end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head = end == std::string_view::npos ? std::string_view() : head.substr(end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    request.headers.insert_or_assign(std::move(name), std::string(Trim(line.substr(colon + 1))));
  }

  const std::string_view length_text = request.Header("content-length");
  size_t content_length = 0;
  if (!length_text.empty()) {
    const auto [end, error] = std::from_chars(
        length_text.data(), length_text.data() + length_text.size(), content_length);
    if (error != std::errc() || end != length_text.data() + length_text.size()) return std::nullopt;
  }
  if (content_length != body.size()) return std::nullopt;
  request.body = std::string(body);
  request.route = RouteFor(request.method, request.path);
  return request;
}

std::string BuildResponse(int status, std::string_view content_type, std::string_view body) {
  std::string response;
  response.reserve(128 + body.size());
  response += "HTTP/1.1 ";
  response += std::to_string(status);
  response += ' ';
  response += StatusText(status);
  response += "\r\nServer: heapscope-demo\r\nContent-Type: ";
  response += content_type;
  response += "\r\nContent-Length: ";
  response += std::to_string(body.size());
  response += "\r\n\r\n";
  response += body;
  return response;
}

}  // namespace demo
