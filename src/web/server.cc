#include "web/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "web/page.h"

namespace heapscope::web {
namespace {

// Everything the page loads comes from this server; the browser is told so.
constexpr const char* kPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'";

}  // namespace

int Serve(WebData& data, const ServeOptions& options, std::string* error) {
  httplib::Server server;
  server.set_default_headers({{"Content-Security-Policy", kPolicy},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Cache-Control", "no-store"}});
  const std::string page = ServedPage();
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(page, "text/html; charset=utf-8");
  });
  server.Get("/app.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(AppJs().data(), AppJs().size(), "application/javascript; charset=utf-8");
  });
  server.Get("/app.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(AppCss().data(), AppCss().size(), "text/css; charset=utf-8");
  });
  server.Get(R"(/api/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    Params params;
    for (const auto& [k, v] : req.params) {
      if (!params.emplace(k, v).second) {
        res.status = 400;
        res.set_content("{\"error\":\"parameter given twice\"}", kJsonType);
        return;
      }
    }
    Response r = data.Handle(req.path, params);
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content("{\"error\":\"" + std::to_string(res.status) + "\"}", kJsonType);
    }
  });
  // Other methods are refused (httplib answers 400/405 itself for the rest).

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
    if (port < 0) {
      *error = "cannot listen on 127.0.0.1";
      return 1;
    }
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    *error = "cannot listen on 127.0.0.1:" + std::to_string(port) + " (in use?)";
    return 1;
  }

  // SIGINT/SIGTERM stop the server from a thread of their own.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (!stopping.exchange(true)) {
      cv.notify_all();
      server.stop();
    }
  });
  std::thread poller;
  if (data.mode() == Mode::kLive) {
    poller = std::thread([&] {
      std::string last_error;
      std::unique_lock<std::mutex> lock(mu);
      while (!stopping) {
        cv.wait_for(lock, std::chrono::duration<double>(data.every_sec()));
        if (stopping) break;
        lock.unlock();
        std::string err = data.Poll();
        if (!err.empty() && err != last_error) {
          std::fprintf(stderr, "heapscope: warning: %s\n", err.c_str());
        }
        last_error = err;
        lock.lock();
      }
    });
  }
  // The first page load finds its flame graph computed (or being computed:
  // requests wait for it rather than repeat it).
  std::thread warm([&] { data.Warm(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  if (options.on_listening) options.on_listening(url);
  server.listen_after_bind();
  if (!stopping.exchange(true)) {
    // listen ended on its own: wake the signal thread.
    pthread_kill(signals.native_handle(), SIGTERM);
  }
  cv.notify_all();
  signals.join();
  warm.join();
  if (poller.joinable()) poller.join();
  return 0;
}

}  // namespace heapscope::web
