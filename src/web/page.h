// The page's HTML shell: served with its script and style by the server, or
// with both and the data inlined as one self-contained file.
#pragma once

#include <string>
#include <string_view>

namespace heapscope::web {

// The bundle the build made from web/ (esbuild), embedded in the binary.
std::string_view AppJs();
std::string_view AppCss();

// The page heapscope web serves: /app.js and /app.css from the same server.
std::string ServedPage();

// One file that needs nothing else: the bundle and `data_json` (an object
// of API answers keyed by request, WebData::OfflineData) inline, and a
// Content-Security-Policy that forbids fetching anything.
std::string OfflinePage(const std::string& data_json, const std::string& title);

}  // namespace heapscope::web
