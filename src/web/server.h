// The HTTP server of `heapscope web`: the page, its bundle and the JSON API
// (web_data.h) on 127.0.0.1 only; a live source is polled in the
// background so the trend view updates.
#pragma once

#include <functional>
#include <string>

#include "web/web_data.h"

namespace heapscope::web {

struct ServeOptions {
  int port = 0;  // 0: any free port.
  // Called once the server listens, with its URL ("http://127.0.0.1:PORT/").
  std::function<void(const std::string& url)> on_listening;
};

// Serves until SIGINT or SIGTERM; returns the exit status (non-zero with
// a message in *error when the port cannot be bound).
int Serve(WebData& data, const ServeOptions& options, std::string* error);

}  // namespace heapscope::web
