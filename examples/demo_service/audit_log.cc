#include "audit_log.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace demo {
namespace {

std::string MakeTempDirectory() {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                        "/heapscope-demo-audit-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "heapscope-demo: cannot create audit directory %s: %s\n", pattern.c_str(),
                 std::strerror(errno));
    return std::string();
  }
  return pattern;
}

size_t FileLimitBudget() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  return static_cast<size_t>(limit.rlim_cur / 2);
}

}  // namespace

AuditLog& AuditLog::Instance() {
  // Never destroyed: worker threads may still be using it while the process exits.
  static AuditLog* const instance = new AuditLog();
  return *instance;
}

AuditLog::AuditLog() : directory_(MakeTempDirectory()), max_open_files_(FileLimitBudget()) {}

int AuditLog::OpenForPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) paths_.push_back(path);
  return fd;
}

void AuditLog::Append(std::string_view tenant, std::string_view line) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (directory_.empty()) return;
  auto it = fd_by_tenant_.find(tenant);
  if (it == fd_by_tenant_.end()) {
    if (fd_by_tenant_.size() >= max_open_files_) {
      if (!warned_limit_) {
        std::fprintf(stderr,
                     "heapscope-demo: audit log reached %zu open files (half of RLIMIT_NOFILE); "
                     "not opening more\n",
                     max_open_files_);
        warned_limit_ = true;
      }
      return;
    }
    const int fd = OpenForPath(directory_ + "/tenant-" + std::string(tenant) + ".audit");
    if (fd < 0) return;
    it = fd_by_tenant_.emplace(std::string(tenant), fd).first;
  }
  std::string record(line);
  record += '\n';
  // An audit line that cannot be written is dropped: the demo never reads them back.
  const ssize_t written = ::write(it->second, record.data(), record.size());
  static_cast<void>(written);
}

size_t AuditLog::open_files() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fd_by_tenant_.size();
}

void AuditLog::RemoveFiles() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const std::string& path : paths_) ::unlink(path.c_str());
  if (!directory_.empty()) ::rmdir(directory_.c_str());
}

}  // namespace demo
