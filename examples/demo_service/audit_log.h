// LEAK 3: a file descriptor opened per new request path and never closed.
//
// Mutating requests are appended to a per-tenant audit file. The file is
// opened the first time a tenant is seen and the descriptor is cached, but
// nothing ever closes it when the tenant goes quiet. New tenants appear about
// three times a second, so the process gains ~3 fds/s (~180 a minute).
// As a safety net for very long runs the log stops opening files at half the
// RLIMIT_NOFILE soft limit, so the demo itself never runs out of descriptors.
// Leaky singleton, never destroyed.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_AUDIT_LOG_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_AUDIT_LOG_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "request.h"

namespace demo {

class AuditLog {
 public:
  static AuditLog& Instance();

  // Appends `line` to the audit file of `tenant`, opening it if needed.
  void Append(std::string_view tenant, std::string_view line);

  // Counts fds opened so far.
  size_t open_files() const;

  // Unlinks the audit files and their directory so no litter is left in the
  // temp directory. The descriptors deliberately stay open (the leak stays
  // visible until the process exits).
  void RemoveFiles();

 private:
  AuditLog();

  // Opens (creates) the file at `path` for appending; -1 on failure.
  int OpenForPath(const std::string& path);

  mutable std::mutex mutex_;
  std::string directory_;  // Empty if the temp directory could not be made.
  size_t max_open_files_;
  bool warned_limit_ = false;
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> fd_by_tenant_;
  std::vector<std::string> paths_;
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_AUDIT_LOG_H_
