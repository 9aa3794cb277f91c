#include "format/any_reader.h"

#include <curl/curl.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "format/gzip.h"
#include "format/legacy_heap.h"
#include "format/profile_reader.h"

namespace heapscope::format {
namespace {

// Responses larger than this are refused (profiles are far smaller).
constexpr curl_off_t kMaxResponse = curl_off_t{1} << 30;
constexpr long kMaxRedirects = 3;
constexpr long kConnectTimeoutSec = 10;

// Extra seconds for a ?seconds=N delta request.
int SecondsParam(const std::string& url) {
  size_t q = url.find("seconds=");
  if (q == std::string::npos || (q > 0 && url[q - 1] != '?' && url[q - 1] != '&')) return 0;
  long n = std::strtol(url.c_str() + q + 8, nullptr, 10);
  return n > 0 && n < 3600 ? static_cast<int>(n) : 0;
}

// A URL without a path asks for the heap endpoint, as `go tool pprof` does.
std::string WithDefaultPath(const std::string& url) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme + 3);
  if (slash == std::string::npos) return url + "/debug/pprof/heap";
  if (slash + 1 == url.size()) return url.substr(0, slash) + "/debug/pprof/heap";
  return url;
}

struct Body {
  ByteBuffer data;
  bool too_large = false;
};

size_t OnData(char* ptr, size_t size, size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  size_t len = size * n;
  if (static_cast<curl_off_t>(body->data.size() + len) > kMaxResponse) {
    body->too_large = true;
    return 0;  // Aborts the transfer.
  }
  size_t old = body->data.size();
  body->data.resize(old + len);
  std::memcpy(body->data.data() + old, ptr, len);
  return len;
}

const char* CaBundle() {
  for (const char* name : {"HEAPSCOPE_CA_BUNDLE", "CURL_CA_BUNDLE"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && v[0] != '\0') return v;
  }
  return nullptr;
}

// One line from curl's error: its detailed buffer when filled, else the code's text.
std::string CurlError(CURLcode rc, const char* detail) {
  std::string out = detail != nullptr && detail[0] != '\0' ? detail : curl_easy_strerror(rc);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

bool IsHttpUrl(std::string_view path) {
  return path.starts_with("http://") || path.starts_with("https://");
}

Result<ByteBuffer> FetchHttp(const std::string& url_in, int timeout_sec) {
  if (!IsHttpUrl(url_in)) return Error{url_in + ": only http:// and https:// URLs are supported"};
  for (char c : url_in) {
    if (static_cast<unsigned char>(c) <= ' ') return Error{url_in + ": spaces in the URL"};
  }
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::string url = WithDefaultPath(url_in);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Error{url_in + ": cannot start an HTTP client"};
  // Rejects URLs curl cannot use before anything is sent.
  CURLU* parsed = curl_url();
  CURLUcode uc = curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0);
  char* host = nullptr;
  if (uc == CURLUE_OK) uc = curl_url_get(parsed, CURLUPART_HOST, &host, 0);
  bool host_ok = host != nullptr && host[0] != '\0';
  curl_free(host);
  curl_url_cleanup(parsed);
  if (uc != CURLUE_OK || !host_ok) {
    curl_easy_cleanup(curl);
    return Error{url_in + ": not a valid URL (expected http[s]://HOST:PORT/PATH)" +
                 (uc != CURLUE_OK ? std::string(": ") + curl_url_strerror(uc) : std::string())};
  }
  Body body;
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist* headers = nullptr;
  std::string auth;
  if (const char* token = std::getenv("HEAPSCOPE_TOKEN"); token != nullptr && token[0] != '\0') {
    auth = std::string("Authorization: Bearer ") + token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSec);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(timeout_sec + SecondsParam(url)));
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, kMaxResponse);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "heapscope");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const char* ca = CaBundle();
  if (ca != nullptr) curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    std::string why = CurlError(rc, errbuf);
    switch (rc) {
      case CURLE_COULDNT_CONNECT:
        return Error{url_in + ": cannot connect: " + why +
                     " (is the program running with HEAPSCOPE_HTTP set?)"};
      case CURLE_OPERATION_TIMEDOUT:
        return Error{url_in + ": timed out: " + why};
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        return Error{url_in + ": TLS certificate not trusted: " + why +
                     " (HEAPSCOPE_CA_BUNDLE=FILE trusts a CA or self-signed certificate)"};
      case CURLE_FILESIZE_EXCEEDED:
        return Error{url_in + ": response larger than 1 GiB"};
      case CURLE_WRITE_ERROR:
        if (body.too_large) return Error{url_in + ": response larger than 1 GiB"};
        return Error{url_in + ": " + why};
      case CURLE_PARTIAL_FILE:
        return Error{url_in + ": response cut short: " + why};
      case CURLE_TOO_MANY_REDIRECTS:
        return Error{url_in + ": more than " + std::to_string(kMaxRedirects) + " redirects"};
      default:
        return Error{url_in + ": " + why};
    }
  }
  if (status != 200) {
    std::string_view text = AsStringView(body.data);
    std::string_view first = text.substr(0, text.find('\n'));
    if (first.size() > 200) first = first.substr(0, 200);
    bool printable = true;
    for (char c : first) {
      if (static_cast<unsigned char>(c) < ' ' && c != '\t') printable = false;
    }
    return Error{url_in + ": HTTP " + std::to_string(status) +
                 (first.empty() || !printable ? "" : ": " + std::string(first))};
  }
  return std::move(body.data);
}

Result<Profile> ParseAnyProfile(ByteBuffer bytes, std::string_view source) {
  if (IsGzip(AsStringView(bytes))) {
    Result<ByteBuffer> inflated = Gunzip(AsStringView(bytes));
    if (!inflated.ok()) return Error{std::string(source) + ": " + inflated.error()};
    bytes = std::move(inflated).value();
  }
  std::string_view text = AsStringView(bytes);
  if (LooksLikeGperftoolsHeap(text)) return ReadGperftoolsHeap(text, source);
  if (LooksLikeJemallocHeap(text)) return ReadJemallocHeap(text, source);
  return ReadProfile(std::move(bytes), source);
}

Result<Profile> ReadAnyProfile(const std::string& path) {
  if (IsHttpUrl(path)) {
    Result<ByteBuffer> body = FetchHttp(path);
    if (!body.ok()) return Error{body.error()};
    return ParseAnyProfile(std::move(body).value(), path);
  }
  Result<ByteBuffer> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return Error{bytes.error()};
  return ParseAnyProfile(std::move(bytes).value(), path == "-" ? "standard input" : path);
}

}  // namespace heapscope::format
