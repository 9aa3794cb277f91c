#include "analyze/flame.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "analyze/units.h"

namespace heapscope::analyze {
namespace {

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

// The call tree in preorder (node 0 is the root, "all"); children follow
// their parent in name order, since the stacks come sorted by names.
struct FlameNode {
  uint32_t name = 0;  // Unused for the root.
  uint32_t parent = 0;
  int depth = 0;
  int64_t value = 0;  // NEW (or the only profile).
  int64_t base = 0;
};

std::vector<FlameNode> BuildTree(const MergedStacks& m) {
  std::vector<FlameNode> nodes(1);
  std::vector<uint32_t> path{0};  // Nodes of the previous stack, root first.
  const std::vector<uint32_t>* prev = nullptr;
  for (const MergedStack& s : m.stacks) {
    size_t common = 0;
    if (prev != nullptr) {
      while (common < prev->size() && common < s.frames.size() &&
             (*prev)[common] == s.frames[common]) {
        common++;
      }
    }
    path.resize(common + 1);
    for (size_t k = common; k < s.frames.size(); k++) {
      FlameNode n;
      n.name = s.frames[k];
      n.parent = path.back();
      n.depth = static_cast<int>(k) + 1;
      path.push_back(static_cast<uint32_t>(nodes.size()));
      nodes.push_back(n);
    }
    for (uint32_t n : path) {
      nodes[n].value += s.next;
      nodes[n].base += s.base;
    }
    prev = &s.frames;
  }
  return nodes;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

uint32_t Fnv(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

// What a frame is coloured by: its module for unsymbolized frames
// ("libc.so.6+0x1a2b"), so one library shares a colour, else its name.
std::string_view ColourKey(std::string_view name) {
  size_t plus = name.rfind("+0x");
  return plus != std::string_view::npos && plus > 0 ? name.substr(0, plus) : name;
}

// flamegraph.pl's "hot" palette, picked by hash rather than at random so
// that a function has the same colour in every graph.
std::string HotColour(std::string_view name) {
  const uint32_t h = Fnv(ColourKey(name));
  const double v1 = (h & 0xff) / 255.0, v2 = ((h >> 8) & 0xff) / 255.0,
               v3 = ((h >> 16) & 0xff) / 255.0;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "rgb(%d,%d,%d)", 205 + static_cast<int>(50 * v1),
                static_cast<int>(230 * v2), static_cast<int>(55 * v3));
  return buf;
}

// Red for growth, blue for shrink, white for no change.
std::string DiffColour(int64_t delta, int64_t max_delta) {
  const double r = max_delta == 0 ? 0 : static_cast<double>(Abs(delta)) / max_delta;
  const int fade = 250 - static_cast<int>(std::lround(200 * std::min(r, 1.0)));
  char buf[48];
  if (delta > 0) {
    std::snprintf(buf, sizeof(buf), "rgb(255,%d,%d)", fade, fade);
  } else if (delta < 0) {
    std::snprintf(buf, sizeof(buf), "rgb(%d,%d,255)", fade, fade);
  } else {
    std::snprintf(buf, sizeof(buf), "rgb(250,250,250)");
  }
  return buf;
}

std::string Heading(const CollapsedStacks& next, const CollapsedStacks* base,
                    const std::string& title) {
  std::string h =
      title.empty() ? std::string(base ? "Differential flame graph" : "Flame graph") : title;
  h += " (" + next.sample_type + ", ";
  if (base != nullptr) {
    h += "base " + Label(base->total, next.unit) + ", new " + Label(next.total, next.unit);
  } else {
    h += "total " + Label(next.total, next.unit);
  }
  return h + ")";
}

// pprof's Percentage without its padding.
std::string Pct(int64_t value, int64_t total) {
  std::string s = Percentage(value, total);
  size_t first = s.find_first_not_of(' ');
  return first == std::string::npos ? s : s.substr(first);
}

std::string Tooltip(std::string_view name, const FlameNode& n, const FlameNode& root,
                    const std::string& unit, bool diff) {
  std::string t(name);
  t += " (" + Label(n.value, unit) + ", " + Pct(n.value, root.value) + ")";
  if (diff) {
    const int64_t d = n.value - n.base;
    t += ", base " + Label(n.base, unit) + ", change " + (d > 0 ? "+" : "") + Label(d, unit);
  }
  return t;
}

constexpr double kImageWidth = 1200;
constexpr double kFrameHeight = 16;
constexpr double kFontSize = 12;
constexpr double kFontWidth = 0.59;
constexpr double kXPad = 10;
constexpr double kTopPad = kFontSize * 3;
constexpr double kBottomPad = kFontSize * 2 + 10;
constexpr double kMinWidth = 0.1;  // Pixels; narrower frames are left out.

}  // namespace

std::string RenderFlameSvg(const CollapsedStacks& stacks, const CollapsedStacks* base,
                           const std::string& title) {
  const MergedStacks merged = MergeStacks(base, stacks);
  const std::vector<FlameNode> nodes = BuildTree(merged);
  const FlameNode& root = nodes[0];
  const bool diff = base != nullptr;
  const double width = kImageWidth - 2 * kXPad;
  const double per_unit = root.value > 0 ? width / static_cast<double>(root.value) : 0;

  // Preorder: a node's children come after it, in name order, each placed
  // where its previous sibling ended. Frames narrower than kMinWidth (and
  // all beneath them) are left out.
  std::vector<double> x(nodes.size(), 0), w(nodes.size(), 0), next_x(nodes.size(), 0);
  std::vector<uint8_t> shown(nodes.size(), 0);
  x[0] = next_x[0] = kXPad;
  w[0] = root.value > 0 ? width : 0;
  shown[0] = 1;
  int max_depth = 0;
  int64_t max_delta = 0;
  for (size_t i = 1; i < nodes.size(); i++) {
    const FlameNode& n = nodes[i];
    if (!shown[n.parent] || n.value <= 0) continue;
    x[i] = next_x[i] = next_x[n.parent];
    w[i] = static_cast<double>(n.value) * per_unit;
    next_x[n.parent] += w[i];
    if (w[i] < kMinWidth) continue;
    shown[i] = 1;
    max_depth = std::max(max_depth, n.depth);
    max_delta = std::max(max_delta, Abs(n.value - n.base));
  }

  const double height = (max_depth + 1) * kFrameHeight + kTopPad + kBottomPad;
  char buf[512];
  std::string out;
  out += "<?xml version=\"1.0\" standalone=\"no\"?>\n";
  std::snprintf(buf, sizeof(buf),
                "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "xmlns=\"http://www.w3.org/2000/svg\">\n",
                kImageWidth, height, kImageWidth, height);
  out += buf;
  out +=
      "<style>text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; } "
      ".title { font-size: 17px; text-anchor: middle; } .frame:hover rect { stroke: #000; "
      "stroke-width: 0.5; }</style>\n";
  std::snprintf(buf, sizeof(buf),
                "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#f8f8f8\"/>\n",
                kImageWidth, height);
  out += buf;
  std::snprintf(buf, sizeof(buf), "<text class=\"title\" x=\"%.1f\" y=\"24\">", kImageWidth / 2);
  out += buf;
  out += XmlEscape(Heading(stacks, base, title));
  out += "</text>\n";
  if (diff) {
    std::snprintf(buf, sizeof(buf),
                  "<text x=\"%.1f\" y=\"%.1f\">widths: new; red: grew since base, blue: "
                  "shrank</text>\n",
                  kXPad, height - 10);
    out += buf;
  }

  for (size_t i = 0; i < nodes.size(); i++) {
    if (!shown[i]) continue;
    const FlameNode& n = nodes[i];
    std::string_view name = i == 0 ? std::string_view("all") : merged.names[n.name];
    const double y = height - kBottomPad - (n.depth + 1) * kFrameHeight;
    out += "<g class=\"frame\"><title>";
    out += XmlEscape(Tooltip(name, n, root, stacks.unit, diff));
    out += "</title>";
    std::snprintf(buf, sizeof(buf),
                  "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" rx=\"2\" "
                  "fill=\"",
                  x[i], y, w[i], kFrameHeight - 1);
    out += buf;
    out += diff ? DiffColour(n.value - n.base, max_delta)
                : (i == 0 ? std::string("rgb(230,100,90)") : HotColour(name));
    out += "\"/>";
    const size_t fits = static_cast<size_t>(std::max(0.0, (w[i] - 6) / (kFontSize * kFontWidth)));
    if (fits >= 3) {
      std::snprintf(buf, sizeof(buf), "<text x=\"%.2f\" y=\"%.1f\">", x[i] + 3, y + 11.5);
      out += buf;
      if (name.size() <= fits) {
        out += XmlEscape(name);
      } else {
        // Cut at a character boundary, not inside a UTF-8 sequence.
        size_t cut = fits - 2;
        while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) cut--;
        out += XmlEscape(name.substr(0, cut));
        out += "..";
      }
      out += "</text>";
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

namespace {

// The page's script and style, written for this page: no libraries, no
// requests. The data sits in a <script type="application/json"> element.
constexpr std::string_view kHtmlHead = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>heapscope flame graph</title>
<style>
body { margin: 0; font: 13px Verdana, sans-serif; background: #f8f8f8; color: #222; }
header { padding: 8px 12px; position: sticky; top: 0; background: #f8f8f8; z-index: 2;
  border-bottom: 1px solid #ddd; }
h1 { font-size: 16px; margin: 0 0 6px 0; font-weight: normal; }
#bar { display: flex; gap: 8px; align-items: center; }
#search { width: 320px; padding: 3px 6px; }
#matched { color: #7a1f7a; }
#details { padding: 4px 12px; min-height: 18px; color: #444; white-space: pre; overflow: hidden; }
#chart { position: relative; margin: 0 12px 12px 12px; }
.frame { position: absolute; height: 16px; line-height: 16px; box-sizing: border-box;
  border: 1px solid rgba(255, 255, 255, 0.6); border-radius: 2px; overflow: hidden;
  white-space: nowrap; text-overflow: ellipsis; padding: 0 3px; font-size: 12px;
  cursor: pointer; }
.frame:hover { border-color: #000; }
.frame.ancestor { opacity: 0.6; }
.frame.match { background: rgb(230, 0, 230) !important; color: #fff; }
</style>
</head>
<body>
<header>
<h1 id="title"></h1>
<div id="bar">
<input id="search" type="search" placeholder="Search functions (regular expression)"
  autocomplete="off">
<button id="reset" type="button">Reset zoom</button>
<span id="matched"></span>
</div>
</header>
<div id="details"></div>
<div id="chart"></div>
<script type="application/json" id="flame-data">)html";

constexpr std::string_view kHtmlTail = R"html(</script>
<script>
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('flame-data').textContent);
  var names = data.names, diff = data.diff, unit = data.unit;
  var chart = document.getElementById('chart');
  var details = document.getElementById('details');
  var matchedEl = document.getElementById('matched');
  var searchEl = document.getElementById('search');
  var ROW = 17;

  function formatValue(v) {
    var sign = v < 0 ? '-' : '';
    var a = Math.abs(v), s = '';
    if (unit === 'bytes') {
      var units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'], i = 0;
      while (a >= 1024 && i < units.length - 1) { a /= 1024; i++; }
      s = (Math.round(a * 100) / 100).toString() + units[i];
    } else {
      s = a.toString() + (unit && unit !== 'count' ? unit : '');
    }
    return sign + s;
  }
  function percent(v, total) {
    return total ? (Math.round(Math.abs(v) / Math.abs(total) * 10000) / 100) + '%' : '0%';
  }

  // The call tree, children in name order (names are sorted).
  function Node(name, parent) {
    this.name = name; this.parent = parent; this.value = 0; this.base = 0;
    this.children = []; this.byName = new Map();
    this.depth = parent ? parent.depth + 1 : 0;
  }
  var root = new Node(-1, null), maxDepth = 0;
  data.stacks.forEach(function (s) {
    var frames = s[0], v = s[1], b = s.length > 2 ? s[2] : 0, n = root;
    n.value += v; n.base += b;
    for (var i = 0; i < frames.length; i++) {
      var c = n.byName.get(frames[i]);
      if (!c) { c = new Node(frames[i], n); n.byName.set(frames[i], c); n.children.push(c); }
      c.value += v; c.base += b; n = c;
    }
    if (frames.length > maxDepth) maxDepth = frames.length;
  });
  function sortTree(n) {
    n.children.sort(function (a, b) { return a.name - b.name; });
    n.children.forEach(sortTree);
  }
  sortTree(root);
  var maxDelta = 0;
  (function walk(n) {
    if (n !== root) maxDelta = Math.max(maxDelta, Math.abs(n.value - n.base));
    n.children.forEach(walk);
  })(root);

  function nameOf(n) { return n === root ? 'all' : names[n.name]; }
  function hash(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    return h >>> 0;
  }
  function colour(n) {
    if (diff) {
      var d = n.value - n.base, r = maxDelta ? Math.abs(d) / maxDelta : 0;
      var fade = 250 - Math.round(200 * r);
      if (d > 0) return 'rgb(255,' + fade + ',' + fade + ')';
      if (d < 0) return 'rgb(' + fade + ',' + fade + ',255)';
      return 'rgb(250,250,250)';
    }
    if (n === root) return 'rgb(230,100,90)';
    var name = nameOf(n), plus = name.lastIndexOf('+0x');
    var h = hash(plus > 0 ? name.substring(0, plus) : name);
    return 'rgb(' + (205 + Math.floor(50 * (h & 255) / 255)) + ',' +
        Math.floor(230 * ((h >>> 8) & 255) / 255) + ',' +
        Math.floor(55 * ((h >>> 16) & 255) / 255) + ')';
  }
  function describe(n) {
    var t = nameOf(n) + ' (' + formatValue(n.value) + ', ' + percent(n.value, root.value) + ')';
    if (diff) {
      var d = n.value - n.base;
      t += ', base ' + formatValue(n.base) + ', change ' + (d > 0 ? '+' : '') + formatValue(d);
    }
    return t;
  }

  var zoomed = root, pattern = null, shown = [];
  function matches(n) { return pattern !== null && n !== root && pattern.test(nameOf(n)); }

  function render() {
    chart.textContent = '';
    shown = [];
    var width = chart.clientWidth || 1000;
    chart.style.height = ((maxDepth + 1) * ROW) + 'px';
    var frag = document.createDocumentFragment();
    function place(n, x, w, ancestor) {
      var el = document.createElement('div');
      el.className = 'frame' + (ancestor ? ' ancestor' : '') + (matches(n) ? ' match' : '');
      el.style.left = x + 'px';
      el.style.width = Math.max(w, 1) + 'px';
      el.style.top = ((maxDepth - n.depth) * ROW) + 'px';
      el.style.background = colour(n);
      el.textContent = w > 30 ? nameOf(n) : '';
      el.title = describe(n);
      el.setAttribute('data-i', shown.length);
      shown.push(n);
      frag.appendChild(el);
    }
    for (var a = zoomed.parent; a; a = a.parent) place(a, 0, width, true);
    var scale = zoomed.value > 0 ? width / zoomed.value : 0;
    (function layout(n, x) {
      var w = n.value * scale;
      if (w < 0.5 || n.value <= 0) return;
      place(n, x, w, false);
      var cx = x;
      n.children.forEach(function (c) {
        if (c.value > 0) { layout(c, cx); cx += c.value * scale; }
      });
    })(zoomed, 0);
    chart.appendChild(frag);
  }

  function search() {
    var q = searchEl.value;
    pattern = null;
    if (q) {
      try { pattern = new RegExp(q); } catch (e) {
        pattern = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      }
    }
    if (pattern === null) {
      matchedEl.textContent = '';
    } else {
      // A stack counts once however many of its frames match.
      var hit = new Array(names.length), sum = 0;
      for (var i = 0; i < names.length; i++) hit[i] = pattern.test(names[i]);
      data.stacks.forEach(function (s) {
        if (s[0].some(function (f) { return hit[f]; })) sum += s[1];
      });
      matchedEl.textContent = 'Matched: ' + formatValue(sum) + ' of ' +
          formatValue(root.value) + ' (' + percent(sum, root.value) + ')';
    }
    render();
  }

  chart.addEventListener('click', function (e) {
    var i = e.target.getAttribute && e.target.getAttribute('data-i');
    if (i === null || i === undefined) return;
    zoomed = shown[+i];
    render();
  });
  chart.addEventListener('mouseover', function (e) {
    var i = e.target.getAttribute && e.target.getAttribute('data-i');
    if (i !== null && i !== undefined) details.textContent = describe(shown[+i]);
  });
  document.getElementById('reset').addEventListener('click', function () {
    zoomed = root; render();
  });
  searchEl.addEventListener('input', search);
  window.addEventListener('resize', render);
  document.getElementById('title').textContent = data.title;
  document.title = data.title;
  render();
})();
</script>
</body>
</html>
)html";

}  // namespace

std::string RenderFlameHtml(const CollapsedStacks& stacks, const CollapsedStacks* base,
                            const std::string& title) {
  const MergedStacks merged = MergeStacks(base, stacks);
  using Json = nlohmann::ordered_json;
  Json j;
  j["title"] = Heading(stacks, base, title);
  j["sample_type"] = stacks.sample_type;
  j["unit"] = stacks.unit;
  j["total"] = stacks.total;
  j["diff"] = base != nullptr;
  if (base != nullptr) j["base_total"] = base->total;
  j["names"] = merged.names;
  Json list = Json::array();
  for (const MergedStack& s : merged.stacks) {
    Json row = Json::array({s.frames, s.next});
    if (base != nullptr) row.push_back(s.base);
    list.push_back(std::move(row));
  }
  j["stacks"] = std::move(list);
  std::string json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // '<' only occurs inside JSON strings; escaping it keeps "</script>" in a
  // function name from ending the element.
  std::string safe;
  safe.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      safe += "\\u003c";
    } else {
      safe += c;
    }
  }
  std::string out;
  out.reserve(kHtmlHead.size() + safe.size() + kHtmlTail.size());
  out += kHtmlHead;
  out += safe;
  out += kHtmlTail;
  return out;
}

}  // namespace heapscope::analyze
