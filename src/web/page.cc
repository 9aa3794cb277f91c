#include "web/page.h"

namespace heapscope::web {
namespace {

constexpr std::string_view kHead =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"color-scheme\" content=\"light dark\">\n";

// A literal "</script" or "</style" inside the bundle would end the element.
std::string Inline(std::string_view text, std::string_view tag) {
  std::string closing = "</" + std::string(tag);
  std::string out;
  out.reserve(text.size() + 16);
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(closing, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out += "<\\/";
    out += tag;
    pos = hit + closing.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string ServedPage() {
  std::string out(kHead);
  out += "<title>heapscope</title>\n<link rel=\"icon\" href=\"data:,\">\n";
  out += "<link rel=\"stylesheet\" href=\"/app.css\">\n</head>\n";
  out += "<body>\n<div id=\"app\"></div>\n<script src=\"/app.js\"></script>\n</body>\n</html>\n";
  return out;
}

std::string OfflinePage(const std::string& data_json, const std::string& title) {
  std::string out(kHead);
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n";
  out += "<title>" + Escape(title.empty() ? "heapscope" : "heapscope: " + title) + "</title>\n";
  out += "<style>\n" + Inline(AppCss(), "style") + "\n</style>\n</head>\n<body>\n";
  out += "<div id=\"app\"></div>\n";
  out += "<script type=\"application/json\" id=\"heapscope-data\">" + data_json + "</script>\n";
  out += "<script>\n" + Inline(AppJs(), "script") + "\n</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace heapscope::web
