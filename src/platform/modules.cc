#include "platform/modules.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

namespace heapscope::platform {
namespace {

struct CallbackState {
  ModuleTable* table;
  size_t added;
};

// Finds NT_GNU_BUILD_ID in the object's PT_NOTE segments, in memory.
void ReadBuildId(const dl_phdr_info* info, char* hex, size_t cap) {
  hex[0] = '\0';
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr)* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
      size_t name_sz = (nh->n_namesz + 3) & ~size_t{3};
      size_t desc_sz = (nh->n_descsz + 3) & ~size_t{3};
      const char* name = p + sizeof(ElfW(Nhdr));
      const unsigned char* desc = reinterpret_cast<const unsigned char*>(name + name_sz);
      if (reinterpret_cast<const char*>(desc) + nh->n_descsz > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        static const char kHex[] = "0123456789abcdef";
        size_t n = 0;
        for (size_t j = 0; j < nh->n_descsz && n + 2 < cap; j++) {
          hex[n++] = kHex[desc[j] >> 4];
          hex[n++] = kHex[desc[j] & 15];
        }
        hex[n] = '\0';
        return;
      }
      p = reinterpret_cast<const char*>(desc) + desc_sz;
    }
  }
}

}  // namespace

bool ModuleTable::Known(uintptr_t start, uintptr_t limit, const char* path) const {
  size_t n = count_.load(std::memory_order_relaxed);
  for (size_t i = n; i-- > 0;) {
    const Module& m = modules_[i];
    if (m.start == start && m.limit == limit) return strcmp(m.path, path) == 0;
  }
  return false;
}

int ModuleTable::Callback(struct dl_phdr_info* info, size_t, void* data) {
  auto* st = static_cast<CallbackState*>(data);
  ModuleTable* t = st->table;
  const char* name = info->dlpi_name;
  bool is_main = false;
  char exe[4096];
  if (name == nullptr || name[0] == '\0') {
    // The executable is the object with an empty name.
    size_t n = ExecutablePath(exe, sizeof exe);
    if (n == 0) return 0;
    name = exe;
    is_main = true;
  } else if (strncmp(name, "linux-vdso", 10) == 0 || strncmp(name, "linux-gate", 10) == 0) {
    return 0;
  }
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    uintptr_t limit = start + ph.p_memsz;
    if (t->Known(start, limit, name)) continue;
    size_t idx = t->count_.load(std::memory_order_relaxed);
    if (idx >= kMaxModules) return 1;
    size_t len = strlen(name);
    char* path = static_cast<char*>(t->arena_.Alloc(len + 1, 1));
    char* bid = static_cast<char*>(t->arena_.Alloc(129, 1));
    if (path == nullptr || bid == nullptr) return 1;
    memcpy(path, name, len + 1);
    ReadBuildId(info, bid, 129);
    Module& m = t->modules_[idx];
    m.start = start;
    m.limit = limit;
    m.file_offset = ph.p_offset;
    m.load_bias = info->dlpi_addr;
    m.path = path;
    m.build_id = bid;
    m.is_main = is_main;
    t->count_.store(idx + 1, std::memory_order_release);
    st->added++;
  }
  return 0;
}

size_t ModuleTable::Refresh() {
  base::SpinLockHolder h(lock_);
  CallbackState st{this, 0};
  dl_iterate_phdr(&ModuleTable::Callback, &st);
  return st.added;
}

const Module* ModuleTable::Find(uintptr_t addr) const {
  size_t n = count_.load(std::memory_order_acquire);
  for (size_t i = n; i-- > 0;) {
    const Module& m = modules_[i];
    if (addr >= m.start && addr < m.limit) return &m;
  }
  return nullptr;
}

size_t ExecutablePath(char* buf, size_t cap) {
  if (cap == 0) return 0;
  ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
  if (n <= 0) {
    buf[0] = '\0';
    return 0;
  }
  buf[n] = '\0';
  return static_cast<size_t>(n);
}

size_t ProgramName(char* buf, size_t cap) {
  if (cap == 0) return 0;
  buf[0] = '\0';
  int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0) return 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) n--;
  buf[n] = '\0';
  // Keep names usable in file names.
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '/' || buf[i] == ' ') buf[i] = '_';
  }
  return static_cast<size_t>(n);
}

}  // namespace heapscope::platform
