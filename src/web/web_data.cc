#include "web/web_data.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>

#include "analyze/diff.h"
#include "analyze/folded.h"
#include "analyze/rss_report.h"
#include "analyze/runtime_comments.h"
#include "analyze/sample_type.h"
#include "analyze/source_list.h"
#include "analyze/symbolizer.h"
#include "analyze/top.h"
#include "format/any_reader.h"
#include "format/profile_reader.h"
#include "web/flame_tree.h"

namespace heapscope::web {

using Json = nlohmann::ordered_json;

namespace {

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(const std::string& message) { return Dump(Json{{"error", message}}); }

// inuse_space <-> inuse_objects, alloc_space <-> alloc_objects.
std::string CompanionType(const format::Profile& p, const std::string& type) {
  std::string want;
  if (type.ends_with("space")) {
    want = type.substr(0, type.size() - 5) + "objects";
  } else if (type.ends_with("objects")) {
    want = type.substr(0, type.size() - 7) + "space";
  } else {
    return "";
  }
  for (const format::ValueType& vt : p.sample_types) {
    if (p.String(vt.type) == want) return want;
  }
  return "";
}

std::string RegexEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Frames narrower than 1/50000 of the total are never sent (a fiftieth of
// a pixel on a 1000-pixel graph), and at most kFrameBudget frames are: the
// largest ones. That keeps the answer near 1 MB and the page quick however
// many stacks a profile has; the page says how many frames were left out.
constexpr int64_t kPruneDivisor = 50000;
constexpr size_t kFrameBudget = 40000;

// `j` with the tree's members added.
std::string WithTree(const Json& j, const analyze::MergedStacks& merged, bool diff, int64_t total) {
  std::string out = Dump(j);
  out.pop_back();  // '}'
  if (out.size() > 1) out += ',';
  out += FlameTreeJsonMembers(merged, diff, total / kPruneDivisor, kFrameBudget);
  out += '}';
  return out;
}

double NowSec() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> CommentNumber(const std::map<std::string, std::string>& kv,
                                     const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) return std::nullopt;
  int64_t v = 0;
  auto r = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (r.ec != std::errc() || r.ptr != it->second.data() + it->second.size()) return std::nullopt;
  return v;
}

}  // namespace

struct WebData::Side {
  std::string source;
  format::ByteBuffer bytes;
  format::Profile profile;
  // Variants of `profile` made on first use (Variant): functions by source
  // line, and inlined frames given to their out-of-line caller.
  struct Derived {
    std::unique_ptr<format::Profile> profile;
    std::string error;
    bool tried = false;
  };
  Derived lines, callers;
  std::vector<std::string> types;
  std::string default_type;
};

format::Result<format::Profile> LoadWebProfile(const format::ByteBuffer& bytes,
                                               const std::string& source, bool by_line,
                                               bool noinlines, const analyze::SampleFilter& filter,
                                               const std::vector<std::string>& symbol_dirs,
                                               std::vector<std::string>* warnings) {
  format::ByteBuffer copy(bytes.begin(), bytes.end());
  format::Result<format::Profile> profile = format::ParseAnyProfile(std::move(copy), source);
  if (!profile.ok()) return profile;
  if (filter.active()) {
    format::Result<analyze::FilterStats> stats = analyze::ApplySampleFilter(&*profile, filter);
    if (!stats.ok()) return format::Error{stats.error()};
  }
  analyze::SymbolizeOptions options;
  options.symbol_dirs = symbol_dirs;
  format::Result<analyze::SymbolizeStats> stats = analyze::Symbolize(*profile, options);
  if (!stats.ok()) return format::Error{source + ": " + stats.error()};
  for (const std::string& w : stats->warnings) {
    if (std::find(warnings->begin(), warnings->end(), w) == warnings->end()) {
      warnings->push_back(w);
    }
  }
  if (noinlines) analyze::DropInlinedFrames(*profile);
  if (by_line) analyze::UseLinesAsFunctions(*profile);
  return profile;
}

namespace {

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

format::Result<format::ByteBuffer> ReadSourceBytes(const std::string& source) {
  if (format::IsHttpUrl(source)) return format::FetchHttp(source, 30);
  return format::ReadFileBytes(source);
}

}  // namespace

WebData::~WebData() = default;

format::Result<std::unique_ptr<WebData>> WebData::Open(const WebOptions& options) {
  std::unique_ptr<WebData> d(new WebData());
  d->options_ = options;
  const auto& src = options.sources;
  if (src.empty()) return format::Error{"no source given"};
  auto load_side = [&](const std::string& source,
                       format::ByteBuffer bytes) -> format::Result<std::shared_ptr<Side>> {
    auto side = std::make_shared<Side>();
    side->source = source == "-" ? "standard input" : source;
    side->bytes = std::move(bytes);
    format::Result<format::Profile> p =
        LoadWebProfile(side->bytes, side->source, false, options.noinlines, options.filter,
                       options.symbol_dirs, &d->warnings_);
    if (!p.ok()) return format::Error{p.error()};
    side->profile = std::move(*p);
    if (side->profile.sample_types.empty()) return format::Error{source + ": no sample types"};
    for (const format::ValueType& vt : side->profile.sample_types) {
      side->types.emplace_back(side->profile.String(vt.type));
    }
    format::Result<size_t> def = analyze::SelectSampleType(side->profile, options.sample_type);
    if (!def.ok()) return format::Error{source + ": " + def.error()};
    side->default_type = side->types[*def];
    return side;
  };
  auto read_side = [&](const std::string& source) -> format::Result<std::shared_ptr<Side>> {
    format::Result<format::ByteBuffer> bytes = ReadSourceBytes(source);
    if (!bytes.ok()) return format::Error{bytes.error()};
    return load_side(source, std::move(*bytes));
  };

  bool live = src.size() == 1 && format::IsHttpUrl(src[0]);
  bool dir = src.size() == 1 && !live && IsDirectory(src[0]);
  for (const std::string& s : src) {
    if (src.size() > 1 && format::IsHttpUrl(s)) {
      return format::Error{s + ": a live endpoint is watched on its own, give it as the only SOURCE"};
    }
    if (s.starts_with("https://")) {
      return format::Error{s + ": https is not supported (put a local proxy in front)"};
    }
  }
  if (live) {
    d->mode_ = Mode::kLive;
    std::string err = d->Poll();
    if (!err.empty()) return format::Error{err};
    return d;
  }
  std::vector<std::string> files;
  if (dir) {
    format::Result<std::vector<std::string>> listed =
        analyze::ListSnapshotFiles(src[0], options.pid);
    if (!listed.ok()) return format::Error{listed.error()};
    files = std::move(*listed);
    if (files.empty()) return format::Error{src[0] + ": no heap snapshots in this directory"};
  } else {
    for (const std::string& s : src) {
      if (IsDirectory(s)) {
        return format::Error{s + ": a snapshot directory is shown on its own, give it as the only SOURCE"};
      }
    }
    files = src;
  }
  if (options.series) {
    d->mode_ = Mode::kSeries;
  } else if (!dir && files.size() == 1) {
    d->mode_ = Mode::kProfile;
  } else if (!dir && files.size() == 2) {
    d->mode_ = Mode::kDiff;
  } else {
    d->mode_ = Mode::kSeries;
  }
  if (d->mode_ == Mode::kSeries) {
    // Every snapshot feeds the series; the last one is the profile shown.
    for (const std::string& f : files) {
      format::Result<format::Profile> p = format::ReadAnyProfile(f);
      if (!p.ok()) {
        d->warnings_.push_back(p.error());
        continue;
      }
      format::Result<analyze::LeakSnapshot> snap = analyze::SummarizeSnapshot(*p, f);
      if (!snap.ok()) {
        d->warnings_.push_back(f + ": " + snap.error());
        continue;
      }
      analyze::ReadResourceSiblings(f, &*snap, &d->warnings_);
      d->series_.push_back(std::move(*snap));
      d->series_comments_.push_back(analyze::RuntimeComments(*p));
    }
    if (d->series_.empty()) {
      return format::Error{(dir ? src[0] : files[0]) + ": none of the snapshots could be read"};
    }
    std::string note;
    std::vector<bool> keep = analyze::NewestRun(d->series_, &note);
    if (!note.empty()) {
      d->warnings_.push_back(note);
      size_t k = 0;
      for (size_t i = 0; i < keep.size(); i++) {
        if (!keep[i]) continue;
        d->series_[k] = std::move(d->series_[i]);
        d->series_comments_[k] = std::move(d->series_comments_[i]);
        k++;
      }
      d->series_.resize(k);
      d->series_comments_.resize(k);
    }
    // The suspects' source lines, from DWARF (as the profile shown has them).
    analyze::SymbolizeOptions symbols;
    symbols.symbol_dirs = options.symbol_dirs;
    analyze::AddSourceLines(&d->series_, symbols);
    files = {d->series_.front().source, d->series_.back().source};
    if (files[0] == files[1]) files.pop_back();
  }
  format::Result<std::shared_ptr<Side>> current = read_side(files.back());
  if (!current.ok()) return format::Error{current.error()};
  d->current_ = *current;
  if (files.size() >= 2) {
    format::Result<std::shared_ptr<Side>> base = read_side(files.front());
    if (!base.ok()) return format::Error{base.error()};
    d->base_ = *base;
    format::Result<std::string> common = analyze::SelectDiffSampleType(
        d->base_->profile, d->current_->profile, d->current_->default_type);
    if (!common.ok()) {
      return format::Error{d->base_->source + " vs " + d->current_->source + ": " + common.error()};
    }
  }
  return d;
}

std::string WebData::Poll() {
  const std::string& url = options_.sources[0];
  format::Result<format::ByteBuffer> bytes = format::FetchHttp(url, 30);
  if (!bytes.ok()) return bytes.error();
  // The series is summarized from the profile as written, unsymbolized and
  // unfiltered, as `heapscope leaks` reads snapshot files; the views get
  // the symbolized one.
  format::Result<format::Profile> raw =
      format::ParseAnyProfile(format::ByteBuffer(bytes->begin(), bytes->end()), url);
  if (!raw.ok()) return raw.error();
  format::Result<analyze::LeakSnapshot> snap = analyze::SummarizeSnapshot(*raw, url);
  if (!snap.ok()) return url + ": " + snap.error();
  std::map<std::string, std::string> comments = analyze::RuntimeComments(*raw);
  std::vector<std::string> warnings;
  format::Result<format::Profile> p = LoadWebProfile(
      *bytes, url, false, options_.noinlines, options_.filter, options_.symbol_dirs, &warnings);
  if (!p.ok()) return p.error();
  if (snap->time_sec == 0) snap->time_sec = NowSec();
  // The suspects' source lines, from the newest snapshot (as `heapscope
  // leaks` gives a live endpoint's): its bytes read again, unfiltered, and
  // symbolized.
  analyze::SymbolizeOptions symbols;
  symbols.symbol_dirs = options_.symbol_dirs;
  auto sources_of = [&](const format::ByteBuffer& body, const std::string& from) {
    return analyze::SymbolizedStackSources(
        [&] { return format::ParseAnyProfile(format::ByteBuffer(body), from); }, symbols);
  };
  snap->sources = sources_of(*bytes, url);
  // The resource profiles the endpoint serves beside the heap; one it does
  // not serve (another runtime, resources off) is not asked for again.
  {
    size_t slash = url.find('/', url.find("://") + 3);
    std::string base = slash == std::string::npos ? url : url.substr(0, slash);
    for (analyze::LeakKind kind : analyze::kResourceKinds) {
      const size_t ri = analyze::ResourceIndex(kind);
      if (resource_gone_[ri]) continue;
      std::string rurl = base + "/debug/pprof/" + std::string(analyze::LeakKindProfileName(kind));
      format::Result<format::ByteBuffer> rbody = format::FetchHttp(rurl, 30);
      if (!rbody.ok()) {
        if (rbody.error().find("HTTP 404") != std::string::npos) resource_gone_[ri] = true;
        continue;
      }
      format::Result<format::Profile> rprof =
          format::ParseAnyProfile(format::ByteBuffer(*rbody), rurl);
      if (!rprof.ok()) continue;
      format::Result<analyze::ResourceSnapshot> res =
          analyze::SummarizeResource(*rprof, kind, rurl);
      if (!res.ok()) continue;
      res->sources = sources_of(*rbody, rurl);
      snap->resources[ri] = std::move(*res);
    }
  }
  auto side = std::make_shared<Side>();
  side->source = url;
  side->bytes = std::move(*bytes);
  side->profile = std::move(*p);
  if (side->profile.sample_types.empty()) return url + ": no sample types";
  for (const format::ValueType& vt : side->profile.sample_types) {
    side->types.emplace_back(side->profile.String(vt.type));
  }
  format::Result<size_t> def = analyze::SelectSampleType(side->profile, options_.sample_type);
  if (!def.ok()) return url + ": " + def.error();
  side->default_type = side->types[*def];

  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& w : warnings) {
    if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) warnings_.push_back(w);
  }
  // The program restarted behind the same address (heapscope leaks URL
  // does the same): the series, and the diff's base, start again from it.
  if (!series_.empty() && !analyze::SameRun(series_.back().run, snap->run)) {
    std::string w = analyze::AnotherRunNote(snap->run);
    if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) warnings_.push_back(w);
    series_.clear();
    series_comments_.clear();
    base_ = nullptr;
  }
  if (!base_) base_ = side;
  current_ = side;
  // Only the newest snapshot's source lines are kept (the report takes
  // every snapshot's, and the newest names every stack still there).
  if (!series_.empty()) {
    series_.back().sources.clear();
    for (analyze::ResourceSnapshot& res : series_.back().resources) res.sources.clear();
  }
  series_.push_back(std::move(*snap));
  series_comments_.push_back(std::move(comments));
  if (series_.size() > options_.keep && options_.keep > 0) {
    series_.erase(series_.begin());
    series_comments_.erase(series_comments_.begin());
  }
  generation_++;
  return "";
}

Response WebData::Handle(std::string_view path, const Params& params) {
  std::string key(path);
  for (const auto& [k, v] : params) key += "\n" + k + "=" + v;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end() && it->second.first == generation_) return {200, kJsonType, it->second.second};
  format::Result<std::string> r = DoHandle(path, params);
  if (!r.ok()) {
    const std::string& e = r.error();
    int status = e.starts_with("404 ") ? 404 : 400;
    return {status, kJsonType, ErrorBody(e.substr(4))};
  }
  cache_[key] = {generation_, *r};
  return {200, kJsonType, std::move(*r)};
}

namespace {
format::Error NotFound(const std::string& m) { return format::Error{"404 " + m}; }
format::Error BadRequest(const std::string& m) { return format::Error{"400 " + m}; }

std::string Param(const Params& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}
}  // namespace

format::Result<std::string> WebData::DoHandle(std::string_view path, const Params& params) {
  for (const auto& [k, v] : params) {
    if (k != "type" && k != "by" && k != "fn") return BadRequest("unknown parameter '" + k + "'");
  }
  std::string type = Param(params, "type");
  if (path == "/api/info") return Info();
  if (path == "/api/flame") {
    std::string by = Param(params, "by");
    if (!by.empty() && by != "function" && by != "caller") {
      return BadRequest("by must be 'function' or 'caller', not '" + by + "'");
    }
    return Flame(type, by);
  }
  if (path == "/api/top") {
    std::string by = Param(params, "by");
    if (!by.empty() && by != "function" && by != "line" && by != "caller") {
      return BadRequest("by must be 'function', 'line' or 'caller', not '" + by + "'");
    }
    return Top(type, by);
  }
  if (path == "/api/source") {
    std::string fn = Param(params, "fn");
    if (fn.empty()) return BadRequest("fn (a function name) is required");
    return Source(fn, type);
  }
  if (path == "/api/diff") {
    if (!base_) return NotFound("this source has nothing to compare: give two profiles or a snapshot directory");
    return Diff(type);
  }
  if (path == "/api/leaks") {
    if (mode_ != Mode::kSeries && mode_ != Mode::kLive) {
      return NotFound("leak trends need a snapshot directory or a live endpoint");
    }
    return Leaks();
  }
  return NotFound("no such API: " + std::string(path));
}

format::Result<std::string> WebData::CheckedType(const Side& side, const std::string& type) {
  if (type.empty()) return side.default_type;
  for (const std::string& t : side.types) {
    if (t == type) return type;
  }
  std::string all;
  for (const std::string& t : side.types) all += (all.empty() ? "" : ", ") + t;
  return BadRequest("unknown sample type '" + type + "' (the profile has: " + all + ")");
}

format::Result<std::string> WebData::Info() {
  static const char* kModes[] = {"profile", "diff", "series", "live"};
  Json j;
  j["mode"] = kModes[static_cast<int>(mode_)];
  j["sources"] = options_.sources;
  j["profile"] = current_->source;
  j["base"] = base_ ? base_->source : "";
  j["sample_types"] = current_->types;
  j["default_type"] = current_->default_type;
  Json views = Json::array({"flame", "top", "source"});
  if (base_) views.push_back("diff");
  if (mode_ == Mode::kSeries || mode_ == Mode::kLive) views.push_back("leaks");
  j["views"] = views;
  j["live"] = mode_ == Mode::kLive;
  j["every_sec"] = options_.every_sec;
  j["snapshots"] = series_.size();
  j["generation"] = generation_;
  j["warnings"] = warnings_;
  return Dump(j);
}

format::Result<std::string> WebData::Flame(const std::string& type_param, const std::string& by) {
  format::Result<std::string> type = CheckedType(*current_, type_param);
  if (!type.ok()) return format::Error{type.error()};
  const format::Profile* variant = &current_->profile;
  if (by == "caller") {
    std::string error;
    variant = Variant(*current_, by, &error);
    if (variant == nullptr) return BadRequest(error);
  }
  const format::Profile& p = *variant;
  format::Result<analyze::CollapsedStacks> stacks = analyze::CollapseStacks(p, *type);
  if (!stacks.ok()) return BadRequest(stacks.error());
  std::string companion = CompanionType(p, *type);
  std::string companion_unit;
  std::optional<analyze::CollapsedStacks> companion_stacks;
  if (!companion.empty()) {
    format::Result<analyze::CollapsedStacks> c = analyze::CollapseStacks(p, companion);
    if (c.ok()) {
      companion_unit = c->unit;
      companion_stacks = std::move(*c);
    } else {
      companion.clear();
    }
  }
  analyze::MergedStacks merged =
      analyze::MergeStacks(companion_stacks ? &*companion_stacks : nullptr, *stacks);
  Json j;
  j["sample_type"] = stacks->sample_type;
  j["unit"] = stacks->unit;
  j["companion_type"] = companion;
  j["companion_unit"] = companion_unit;
  j["total"] = stacks->total;
  j["source"] = current_->source;
  j["warnings"] = stacks->warnings;
  j["by"] = by == "caller" ? "caller" : "function";
  return WithTree(j, merged, false, stacks->total);
}

const format::Profile* WebData::Variant(Side& side, const std::string& by, std::string* error) {
  const bool by_line = by == "line";
  Side::Derived& d = by_line ? side.lines : side.callers;
  if (!d.tried) {
    d.tried = true;
    std::vector<std::string> warnings;
    format::Result<format::Profile> p =
        LoadWebProfile(side.bytes, side.source, by_line, !by_line || options_.noinlines,
                       options_.filter, options_.symbol_dirs, &warnings);
    if (p.ok()) {
      d.profile = std::make_unique<format::Profile>(std::move(*p));
    } else {
      d.error = p.error();
    }
  }
  *error = d.error;
  return d.profile.get();
}

format::Result<std::string> WebData::Top(const std::string& type_param, const std::string& by) {
  format::Result<std::string> type = CheckedType(*current_, type_param);
  if (!type.ok()) return format::Error{type.error()};
  const bool by_line = by == "line";
  const format::Profile* p = &current_->profile;
  if (by_line || by == "caller") {
    std::string error;
    p = Variant(*current_, by, &error);
    if (p == nullptr) return BadRequest(error);
  }
  analyze::TopOptions options;
  options.sample_type = *type;
  options.max_rows = 0;
  format::Result<analyze::TopReport> report = analyze::ComputeTop(*p, options);
  if (!report.ok()) return BadRequest(report.error());
  constexpr size_t kMaxRows = 5000;
  Json rows = Json::array();
  bool has_lines = false;
  for (size_t i = 0; i < report->rows.size() && i < kMaxRows; i++) {
    const analyze::TopRow& r = report->rows[i];
    Json row;
    row["name"] = r.name;
    std::string function = r.name;
    std::string location;
    if (by_line) {
      size_t sp = r.name.rfind(' ');
      if (sp != std::string::npos && r.name.find(':', sp) != std::string::npos) {
        function = r.name.substr(0, sp);
        location = r.name.substr(sp + 1);
        has_lines = true;
      }
    }
    row["function"] = function;
    row["location"] = location;
    row["flat"] = r.flat;
    row["cum"] = r.cum;
    row["inline"] = r.inline_label;
    rows.push_back(std::move(row));
  }
  Json j;
  j["sample_type"] = report->sample_type;
  j["unit"] = report->unit;
  j["total"] = report->total;
  j["by"] = by.empty() ? "function" : by;
  j["has_lines"] = has_lines;
  j["node_count"] = report->node_count;
  j["rows"] = std::move(rows);
  j["warnings"] = report->warnings;
  return Dump(j);
}

format::Result<std::string> WebData::Source(const std::string& fn, const std::string& type_param) {
  format::Result<std::string> type = CheckedType(*current_, type_param);
  if (!type.ok()) return format::Error{type.error()};
  analyze::ListOptions options;
  options.regex = "^" + RegexEscape(fn) + "$";
  options.sample_type = *type;
  format::Result<analyze::ListReport> report = analyze::ComputeList(current_->profile, options);
  if (!report.ok()) return BadRequest(report.error());
  if (report->functions.empty()) {
    // A short name as the leak report gives it ("Cache::Put" for
    // "ns::Cache<int>::Put(int) const"): every function it names.
    options.regex = "(^|[^\\w])" + RegexEscape(fn) + "($|[^\\w])";
    report = analyze::ComputeList(current_->profile, options);
    if (!report.ok()) return BadRequest(report.error());
  }
  if (report->functions.empty()) return NotFound("no function named '" + fn + "' in the profile");
  Json j = Json::parse(analyze::FormatListJson(*report));
  j["function"] = fn;
  j["warnings"] = report->warnings;
  return Dump(j);
}

format::Result<std::string> WebData::Diff(const std::string& type_param) {
  format::Result<std::string> checked = CheckedType(*current_, type_param);
  if (!checked.ok()) return format::Error{checked.error()};
  format::Result<std::string> type =
      analyze::SelectDiffSampleType(base_->profile, current_->profile, *checked);
  if (!type.ok()) return BadRequest(type.error());
  format::Result<analyze::CollapsedStacks> next =
      analyze::CollapseStacks(current_->profile, *type);
  if (!next.ok()) return BadRequest(next.error());
  format::Result<analyze::CollapsedStacks> base = analyze::CollapseStacks(base_->profile, *type);
  if (!base.ok()) return BadRequest(base.error());
  analyze::DiffReport report = analyze::ComputeDiff(*base, *next, 300);
  analyze::MergedStacks merged = analyze::MergeStacks(&*base, *next);
  Json j;
  j["sample_type"] = *type;
  j["unit"] = next->unit;
  j["base_source"] = base_->source;
  j["source"] = current_->source;
  j["total"] = next->total;
  j["base_total"] = base->total;
  j["table"] = Json::parse(analyze::FormatDiffJson(report));
  std::string out = Dump(j);
  out.pop_back();
  out +=
      ",\"flame\":" + WithTree(Json::object(), merged, true, std::max(next->total, base->total)) +
      "}";
  return out;
}

format::Result<std::string> WebData::Leaks() {
  analyze::LeakOptions options;
  options.max_suspects = 12;
  options.limit = options_.limit;
  options.limit_source = options_.limit_source;
  analyze::LeakReport report = analyze::AnalyzeLeaks(series_, options);
  Json j = Json::parse(analyze::FormatLeaksJson(report));
  j["verdict"] = j["total_verdict"];
  j["live"] = mode_ == Mode::kLive;
  j["every_sec"] = options_.every_sec;
  // The series behind the verdicts: seconds since the first snapshot.
  double t0 = series_.empty() ? 0 : series_.front().time_sec;
  Json times = Json::array();
  Json total = Json::array();
  for (size_t i = 0; i < series_.size(); i++) {
    double t = series_[i].time_sec;
    times.push_back(t0 == 0 && t == 0 ? static_cast<double>(i) : t - t0);
    total.push_back(series_[i].total.bytes);
  }
  j["times"] = times;
  j["start_time_sec"] = t0;
  j["total_series"] = total;
  // What else the runtime's comments carry, as other lines of the memory
  // chart: its peak estimate, its own memory, and the resident set size
  // when a runtime records one.
  Json extra = Json::object();
  for (const char* key : {"rss", "rss_bytes", "resident_bytes", "peak_inuse_space", "profiler_memory"}) {
    Json values = Json::array();
    bool any = false;
    for (const auto& kv : series_comments_) {
      std::optional<int64_t> v = CommentNumber(kv, key);
      values.push_back(v ? Json(*v) : Json(nullptr));
      any = any || v.has_value();
    }
    if (any) extra[key] = values;
  }
  j["extra_series"] = extra;
  // Where resident memory went, part by part (null where a snapshot does
  // not say, e.g. the allocator's parts under an unknown allocator), and
  // the sentence saying which part grew, first snapshot to last.
  std::vector<std::optional<analyze::RssParts>> rss;
  for (const auto& kv : series_comments_) rss.push_back(analyze::RssFromComments(kv));
  // In the runtime's order: that of the fullest breakdown, then any others.
  std::vector<std::string> part_names;
  const analyze::RssParts* fullest = nullptr;
  for (const auto& r : rss) {
    if (r && (fullest == nullptr || r->parts.size() > fullest->parts.size())) fullest = &*r;
  }
  if (fullest != nullptr) {
    for (const auto& [name, v] : fullest->parts) part_names.push_back(name);
  }
  for (const auto& r : rss) {
    if (!r) continue;
    for (const auto& [name, v] : r->parts) {
      if (std::find(part_names.begin(), part_names.end(), name) == part_names.end()) {
        part_names.push_back(name);
      }
    }
  }
  Json rss_parts = Json::object();
  Json rss_labels = Json::object();
  for (const std::string& name : part_names) {
    Json values = Json::array();
    for (const auto& r : rss) {
      std::optional<int64_t> v;
      if (r) {
        for (const auto& [n, bytes] : r->parts) {
          if (n == name) v = bytes;
        }
      }
      values.push_back(v ? Json(*v) : Json(nullptr));
    }
    rss_parts[name] = values;
    rss_labels[name] = analyze::RssPartLabel(name);
  }
  j["rss_parts"] = rss_parts;
  j["rss_part_labels"] = rss_labels;
  const analyze::RssParts* rss_first = nullptr;
  const analyze::RssParts* rss_last = nullptr;
  for (const auto& r : rss) {
    if (!r) continue;
    if (rss_first == nullptr) rss_first = &*r;
    rss_last = &*r;
  }
  j["rss_growth"] =
      rss_first != nullptr && rss_first != rss_last
          ? Json(analyze::RssGrowthLine(*rss_first, *rss_last, analyze::SizeStyle::kIec))
          : Json(nullptr);
  auto add_series = [&](Json& list, const std::vector<analyze::LeakSuspect>& suspects, bool by_fn) {
    for (size_t i = 0; i < suspects.size() && i < list.size(); i++) {
      const analyze::LeakSuspect& s = suspects[i];
      std::string key;
      if (by_fn) {
        key = s.frames.empty() ? "" : s.frames[0];
      } else {
        // As SummarizeSnapshot keys stacks: every frame followed by '\n'.
        for (const std::string& f : s.frames) key += f + "\n";
      }
      // Heap suspects from the heap snapshots; the others from their kind's
      // profiles, null where a snapshot has none (the runtime writes a
      // kind's profile once the program used it).
      Json values = Json::array();
      for (const analyze::LeakSnapshot& snap : series_) {
        if (s.kind != analyze::LeakKind::kHeap) {
          const analyze::ResourceSnapshot& res = snap.resources[analyze::ResourceIndex(s.kind)];
          if (!res.present) {
            values.push_back(nullptr);
            continue;
          }
          auto it = res.stacks.find(key);
          values.push_back(it == res.stacks.end() ? 0 : it->second.bytes);
          continue;
        }
        const auto& m = by_fn ? snap.functions : snap.stacks;
        auto it = m.find(key);
        values.push_back(it == m.end() ? 0 : it->second.bytes);
      }
      list[i]["series"] = values;
    }
  };
  add_series(j["suspects"], report.suspects, false);
  add_series(j["functions"], report.functions, true);
  return Dump(j);
}

void WebData::Warm() {
  std::string type;
  {
    std::lock_guard<std::mutex> lock(mu_);
    type = current_->default_type;
  }
  Handle("/api/flame", {{"type", type}});
  Handle("/api/top", {{"by", "function"}, {"type", type}});
}

std::string WebData::OfflineData() {
  Json data = Json::object();
  auto put = [&](const std::string& path, const Params& params) {
    Response r = Handle(path, params);
    if (r.status != 200) return Json();
    std::string key = path;
    char sep = '?';
    for (const auto& [k, v] : params) {
      key += sep + k + "=" + v;
      sep = '&';
    }
    Json body = Json::parse(r.body);
    data[key] = body;
    return body;
  };
  put("/api/info", {});
  const std::string type = current_->default_type;
  for (const std::string& t : current_->types) put("/api/flame", {{"type", t}});
  put("/api/flame", {{"by", "caller"}, {"type", type}});
  Json top = put("/api/top", {{"by", "function"}, {"type", type}});
  put("/api/top", {{"by", "line"}, {"type", type}});
  put("/api/top", {{"by", "caller"}, {"type", type}});
  if (base_) put("/api/diff", {{"type", type}});
  if (mode_ == Mode::kSeries || mode_ == Mode::kLive) put("/api/leaks", {});
  // Source of the leading functions by flat and by cum.
  if (top.is_object() && top["rows"].is_array()) {
    std::vector<std::pair<int64_t, std::string>> by_cum;
    std::vector<std::string> wanted;
    size_t i = 0;
    for (const Json& row : top["rows"]) {
      std::string name = row["name"].get<std::string>();
      if (i++ < 25) wanted.push_back(name);
      by_cum.emplace_back(row["cum"].get<int64_t>(), name);
    }
    std::sort(by_cum.begin(), by_cum.end(), std::greater<>());
    for (size_t k = 0; k < by_cum.size() && k < 25; k++) wanted.push_back(by_cum[k].second);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    for (const std::string& fn : wanted) put("/api/source", {{"fn", fn}, {"type", type}});
  }
  std::string out = Dump(data);
  // Safe inside <script>: no "</" can close the element early.
  std::string safe;
  safe.reserve(out.size());
  for (size_t k = 0; k < out.size(); k++) {
    if (out[k] == '<' && k + 1 < out.size() && out[k + 1] == '/') {
      safe += "<\\/";
      k++;
    } else {
      safe += out[k];
    }
  }
  return safe;
}

}  // namespace heapscope::web
