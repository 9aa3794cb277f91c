// src/web: the data behind `heapscope web` and the offline pages of
// `heapscope flame -o X.html` and `heapscope leaks --html X.html`. WebData
// holds what a SOURCE names (one profile, two profiles to compare, a
// snapshot series, or a live endpoint polled for new snapshots) and answers
// the page's JSON API with views computed by analyze/: everything is
// aggregated here, the page never sees raw samples.
//
//   GET /api/info                          what the source is, views, sample types
//   GET /api/flame?type=T&by=function|caller  flame tree (pruned below 1/50000 of the total;
//                                          by=caller: inlined frames given to their caller)
//   GET /api/top?type=T&by=function|line|caller  flat/cum table
//   GET /api/source?fn=NAME&type=T         bytes per source line of one function
//   GET /api/diff?type=T                   differential tree + what grew
//   GET /api/leaks                         leak report with the series behind it
//                                          (each suspect's from its kind's profiles;
//                                          RSS and its parts from the runtime's comments)
//
// Unknown paths answer 404, bad parameters 400, each with {"error": "..."}.
// May call: format/ (reader half), analyze/. May not call: runtime/, cli/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analyze/filter.h"
#include "analyze/leaks.h"
#include "format/profile.h"

namespace heapscope::web {

// With a charset, which also keeps cpp-httplib from compressing answers
// (brotli at its default quality takes seconds for a large flame tree;
// over the loopback interface compression only costs time).
inline constexpr const char* kJsonType = "application/json; charset=utf-8";

struct Response {
  int status = 200;
  std::string content_type = kJsonType;
  std::string body;
};

using Params = std::map<std::string, std::string>;

struct WebOptions {
  std::vector<std::string> sources;
  std::optional<int64_t> limit;  // Bytes, for the projected time to the limit.
  std::string limit_source;
  long pid = 0;                  // A child's snapshots in a directory.
  double every_sec = 2;          // Polling interval of a live endpoint.
  size_t keep = 600;             // Live snapshots kept in the series.
  std::string sample_type;       // Shown first; "" for the profile's default.
  analyze::SampleFilter filter;  // --focus/--ignore, applied to the profiles shown.
  bool series = false;           // Treat even one or two files as a snapshot series.
  bool noinlines = false;        // Every view gives inlined frames to their out-of-line caller.
  std::vector<std::string> symbol_dirs;  // Where else to look for binaries (--symbols).
};

enum class Mode { kProfile, kDiff, kSeries, kLive };

class WebData {
 public:
  // Reads the sources (and, for a live endpoint, the first snapshot).
  // Errors are one line naming the source.
  static format::Result<std::unique_ptr<WebData>> Open(const WebOptions& options);
  ~WebData();

  Mode mode() const { return mode_; }
  // Answers one API request; thread-safe.
  Response Handle(std::string_view path, const Params& params);
  // Computes the answers a page asks for first (flame graph and top table
  // of the default sample type) so they are cached when it does.
  void Warm();
  // Live mode: fetches one more snapshot from the endpoint; returns an
  // error message or "".
  std::string Poll();
  double every_sec() const { return options_.every_sec; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // The API answers an offline page carries: every view of the default
  // sample type, keyed by request path ("/api/flame?type=inuse_space").
  std::string OfflineData();

 private:
  struct Side;
  WebData() = default;

  format::Result<std::string> DoHandle(std::string_view path, const Params& params);
  format::Result<std::string> Info();
  // by: "function" (or "") or "caller" (as for Top).
  format::Result<std::string> Flame(const std::string& type, const std::string& by);
  // by: "function" (or ""), "line", or "caller" (inlined frames given to
  // their out-of-line caller, pprof's -noinlines).
  format::Result<std::string> Top(const std::string& type, const std::string& by);
  format::Result<std::string> Source(const std::string& fn, const std::string& type);
  format::Result<std::string> Diff(const std::string& type);
  format::Result<std::string> Leaks();
  format::Result<std::string> CheckedType(const Side& side, const std::string& type);
  // The profile of `side` for top by=line or by=caller (and the flame graph
  // by=caller), made on first use;
  // null (with *error) when it cannot be made.
  const format::Profile* Variant(Side& side, const std::string& by, std::string* error);

  WebOptions options_;
  Mode mode_ = Mode::kProfile;
  std::mutex mu_;
  std::shared_ptr<Side> current_;  // The profile the views show.
  std::shared_ptr<Side> base_;     // Diff base (first of a series), or null.
  std::vector<analyze::LeakSnapshot> series_;
  std::vector<std::map<std::string, std::string>> series_comments_;
  std::vector<std::string> warnings_;
  uint64_t generation_ = 0;  // Bumped by every live snapshot.
  bool resource_gone_[3] = {false, false, false};  // Live: kinds the endpoint does not serve.
  std::map<std::string, std::pair<uint64_t, std::string>> cache_;
};

// Decodes a profile's bytes, applies `filter` and symbolizes it (file:line
// from DWARF where binaries are found, also in `symbol_dirs`), with
// `noinlines` gives inlined frames to their out-of-line caller, with
// `by_line` names functions by line; warnings are appended.
format::Result<format::Profile> LoadWebProfile(const format::ByteBuffer& bytes,
                                               const std::string& source, bool by_line,
                                               bool noinlines, const analyze::SampleFilter& filter,
                                               const std::vector<std::string>& symbol_dirs,
                                               std::vector<std::string>* warnings);

}  // namespace heapscope::web
