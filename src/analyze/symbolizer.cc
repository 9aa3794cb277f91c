#include "analyze/symbolizer.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "analyze/function_names.h"

namespace heapscope::analyze {
namespace {

namespace fs = std::filesystem;

// One frame of an inline chain.
struct Frame {
  std::string name;         // Demangled.
  std::string system_name;  // Mangled, or the same as name.
  std::string file;
  int64_t line = 0;
  int64_t start_line = 0;
};

using Frames = std::vector<Frame>;

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The short form pprof shows by default ("std::vector::push_back"), as the
// runtime names functions; the symbol stays in system_name.
std::string Demangle(const std::string& mangled) {
  if (!mangled.starts_with("_Z")) return mangled;
  std::string out = DemangleSimplified(mangled);
  return out.empty() ? mangled : out;
}

// ---------------------------------------------------------------- cache

// One text file per build ID:
//   heapscope-symbols 4
//   OFFSET_HEX COUNT
//   LINE\tSTART_LINE\tNAME\tSYSTEM_NAME\tFILE     (COUNT times)
// Entries are appended; a torn last entry is ignored when read.
constexpr std::string_view kCacheMagic = "heapscope-symbols 4";
// In the file name too, so files of an older layout are left alone.
// 4: file and line no longer taken from a row of another function.
constexpr std::string_view kCacheSuffix = ".v4.sym";

bool CacheSafe(const std::string& s) { return s.find_first_of("\t\n\r") == std::string::npos; }

void LoadCache(const std::string& path, std::unordered_map<uint64_t, Frames>* out) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line != kCacheMagic) return;
  while (std::getline(in, line)) {
    if (line == kCacheMagic) continue;  // Two runs created the file at once.
    char* end = nullptr;
    uint64_t offset = std::strtoull(line.c_str(), &end, 16);
    if (end == line.c_str() || *end != ' ') return;
    long count = std::strtol(end + 1, &end, 10);
    if (*end != '\0' || count < 0 || count > 1024) return;
    Frames frames;
    for (long i = 0; i < count; i++) {
      if (!std::getline(in, line)) return;
      std::vector<std::string> parts;
      size_t start = 0;
      for (;;) {
        size_t tab = line.find('\t', start);
        parts.push_back(line.substr(start, tab - start));
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      if (parts.size() != 5) return;
      Frame f;
      f.line = std::strtoll(parts[0].c_str(), nullptr, 10);
      f.start_line = std::strtoll(parts[1].c_str(), nullptr, 10);
      f.name = std::move(parts[2]);
      f.system_name = std::move(parts[3]);
      f.file = std::move(parts[4]);
      frames.push_back(std::move(f));
    }
    (*out)[offset] = std::move(frames);
  }
}

void AppendCache(const std::string& dir, const std::string& build_id,
                 const std::vector<std::pair<uint64_t, const Frames*>>& entries) {
  if (dir.empty() || entries.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return;  // A cache we cannot write only costs time.
  const std::string path = dir + "/" + build_id + std::string(kCacheSuffix);
  std::string text;
  if (!IsFile(path)) {
    text.append(kCacheMagic).push_back('\n');
  }
  for (const auto& [offset, frames] : entries) {
    bool safe = true;
    for (const Frame& f : *frames) {
      safe = safe && CacheSafe(f.name) && CacheSafe(f.system_name) && CacheSafe(f.file);
    }
    if (!safe) continue;
    char head[64];
    std::snprintf(head, sizeof head, "%llx %zu\n", static_cast<unsigned long long>(offset),
                  frames->size());
    text += head;
    for (const Frame& f : *frames) {
      text += std::to_string(f.line) + "\t" + std::to_string(f.start_line) + "\t" + f.name + "\t" +
              f.system_name + "\t" + f.file + "\n";
    }
  }
  // One append: concurrent runs interleave whole entries, not bytes.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
}

// ---------------------------------------------------------------- DWARF

// An ELF file opened with libdwfl, with its separate debug information.
class DwarfFile {
 public:
  static std::unique_ptr<DwarfFile> Open(const std::string& path,
                                         const std::vector<std::string>& debug_dirs) {
    auto f = std::unique_ptr<DwarfFile>(new DwarfFile());
    // libdwfl's search path: "" (beside the file), .debug, then each
    // directory, where build-id and debuglink lookups happen.
    f->debuginfo_path_ = ":.debug";
    for (const std::string& d : debug_dirs) f->debuginfo_path_ += ":" + d;
    f->path_ptr_ = f->debuginfo_path_.data();
    f->callbacks_.find_elf = dwfl_build_id_find_elf;
    f->callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
    f->callbacks_.section_address = dwfl_offline_section_address;
    f->callbacks_.debuginfo_path = &f->path_ptr_;
    f->dwfl_ = dwfl_begin(&f->callbacks_);
    if (f->dwfl_ == nullptr) return nullptr;
    f->module_ = dwfl_report_offline(f->dwfl_, "", path.c_str(), -1);
    dwfl_report_end(f->dwfl_, nullptr, nullptr);
    if (f->module_ == nullptr) return nullptr;
    f->elf_ = dwfl_module_getelf(f->module_, &f->bias_);
    if (f->elf_ == nullptr) return nullptr;
    size_t n = 0;
    if (elf_getphdrnum(f->elf_, &n) != 0) return nullptr;
    for (size_t i = 0; i < n; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(f->elf_, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD) {
        f->loads_.push_back(ph);
      }
    }
    return f;
  }

  ~DwarfFile() {
    if (dwfl_ != nullptr) dwfl_end(dwfl_);
  }

  // The frames at file offset `offset`, innermost first; empty when the
  // offset is in no PT_LOAD segment or nothing names it.
  Frames Lookup(uint64_t offset) {
    Frames frames;
    bool found = false;
    GElf_Addr vaddr = 0;
    for (const GElf_Phdr& ph : loads_) {
      if (offset >= ph.p_offset && offset - ph.p_offset < std::max(ph.p_filesz, ph.p_memsz)) {
        vaddr = ph.p_vaddr + (offset - ph.p_offset);
        found = true;
        break;
      }
    }
    if (!found) return frames;
    const Dwarf_Addr addr = vaddr + bias_;
    InlineChain(addr, &frames);
    if (frames.empty()) {
      // No DWARF here: the ELF symbol, without a line.
      if (const char* sym = dwfl_module_addrname(module_, addr); sym != nullptr) {
        Frame f;
        f.system_name = sym;
        f.name = Demangle(f.system_name);
        frames.push_back(std::move(f));
      }
    }
    return frames;
  }

 private:
  DwarfFile() { std::memset(&callbacks_, 0, sizeof callbacks_); }

  static std::string DieName(Dwarf_Die* die, std::string* system_name) {
    Dwarf_Attribute attr;
    const char* linkage = nullptr;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
      linkage = dwarf_formstring(&attr);
    }
    if (linkage != nullptr) {
      *system_name = linkage;
      return Demangle(*system_name);
    }
    const char* name = nullptr;
    if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) name = dwarf_formstring(&attr);
    *system_name = name != nullptr ? name : "";
    // No linkage name (e.g. GCC omits it for functions with internal
    // linkage): qualify the name with its namespaces and classes.
    if (!system_name->empty()) *system_name = Qualifier(die) + *system_name;
    return *system_name;
  }

  // "ns::(anonymous namespace)::Class::" for the DIE that declares `die`.
  static std::string Qualifier(Dwarf_Die* die) {
    Dwarf_Die decl = *die;
    Dwarf_Attribute attr;
    // Follow the concrete-to-abstract and definition-to-declaration links.
    for (int hops = 0; hops < 4; hops++) {
      Dwarf_Die next;
      if ((dwarf_attr(&decl, DW_AT_abstract_origin, &attr) != nullptr ||
           dwarf_attr(&decl, DW_AT_specification, &attr) != nullptr) &&
          dwarf_formref_die(&attr, &next) != nullptr) {
        decl = next;
      } else {
        break;
      }
    }
    Dwarf_Die* scopes = nullptr;
    int n = dwarf_getscopes_die(&decl, &scopes);
    std::string out;
    for (int i = n - 1; i >= 1; i--) {
      const int tag = dwarf_tag(&scopes[i]);
      if (tag != DW_TAG_namespace && tag != DW_TAG_class_type && tag != DW_TAG_structure_type &&
          tag != DW_TAG_union_type) {
        continue;
      }
      const char* part = dwarf_diename(&scopes[i]);
      out += part != nullptr ? part : "(anonymous namespace)";
      out += "::";
    }
    free(scopes);
    return out;
  }

  static int64_t DeclLine(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    Dwarf_Word v = 0;
    if (dwarf_attr_integrate(die, DW_AT_decl_line, &attr) != nullptr &&
        dwarf_formudata(&attr, &v) == 0) {
      return static_cast<int64_t>(v);
    }
    return 0;
  }

  void InlineChain(Dwarf_Addr addr, Frames* frames) {
    Dwarf_Addr cu_bias = 0;
    Dwarf_Die* cu = dwfl_module_addrdie(module_, addr, &cu_bias);
    std::string file;
    int line = 0;
    if (Dwfl_Line* l = dwfl_module_getsrc(module_, addr); l != nullptr) {
      Dwarf_Addr row = 0;
      const char* f = dwfl_lineinfo(l, &row, &line, nullptr, nullptr, nullptr);
      // A row from before the start of the function holding addr is
      // another function's: a Go program's .debug_aranges covers its C
      // code alone, and libdw then answers for Go's assembly with the
      // nearest row of a C file (runtime.asmcgocall as gcc_mmap.c:37).
      GElf_Off off = 0;
      GElf_Sym sym;
      if (dwfl_module_addrinfo(module_, addr, &off, &sym, nullptr, nullptr, nullptr) != nullptr &&
          row < addr - off) {
        f = nullptr;
        line = 0;
      }
      if (f != nullptr) file = f;
    }
    if (cu == nullptr) {
      if (!file.empty()) {
        Frame f;
        f.file = file;
        f.line = line;
        frames->push_back(std::move(f));
      }
      return;
    }
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = nullptr;
    Dwarf_Die* scopes = nullptr;
    int n = dwarf_getscopes(cu, addr - cu_bias, &scopes);
    if (n > 0) {
      // Past an inlined_subroutine dwarf_getscopes continues with its
      // abstract origin's parents; the chain of callers is the concrete
      // tree's, from the innermost scope up.
      Dwarf_Die inner = scopes[0];
      free(scopes);
      scopes = nullptr;
      n = dwarf_getscopes_die(&inner, &scopes);
    }
    for (int i = 0; i < n; i++) {
      Dwarf_Die* s = &scopes[i];
      const int tag = dwarf_tag(s);
      if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine) continue;
      Frame f;
      f.name = DieName(s, &f.system_name);
      if (tag == DW_TAG_subprogram) {
        // The function the code is in is the ELF symbol holding it: take
        // its name, as the runtime does, so both namings agree (DWARF may
        // lack linkage names and parameter lists).
        if (const char* sym = dwfl_module_addrname(module_, addr); sym != nullptr && sym[0]) {
          f.system_name = sym;
          f.name = Demangle(f.system_name);
        }
      }
      f.file = file;
      f.line = line;
      f.start_line = DeclLine(s);
      frames->push_back(std::move(f));
      if (tag == DW_TAG_subprogram) break;
      // The next frame out is where this one was inlined.
      Dwarf_Attribute attr;
      Dwarf_Word v = 0;
      file.clear();
      line = 0;
      if (dwarf_attr(s, DW_AT_call_file, &attr) != nullptr && dwarf_formudata(&attr, &v) == 0 &&
          files != nullptr && v < nfiles) {
        if (const char* name = dwarf_filesrc(files, v, nullptr, nullptr)) file = name;
      }
      if (dwarf_attr(s, DW_AT_call_line, &attr) != nullptr && dwarf_formudata(&attr, &v) == 0) {
        line = static_cast<int>(v);
      }
    }
    free(scopes);
    // Line information without a function DIE (e.g. assembly).
    if (frames->empty() && !file.empty()) {
      Frame f;
      f.file = file;
      f.line = line;
      frames->push_back(std::move(f));
    }
    // Name nameless frames from the ELF symbol table.
    for (Frame& f : *frames) {
      if (!f.name.empty()) continue;
      if (const char* sym = dwfl_module_addrname(module_, addr); sym != nullptr) {
        f.system_name = sym;
        f.name = Demangle(f.system_name);
      }
    }
  }

  Dwfl_Callbacks callbacks_;
  std::string debuginfo_path_;
  char* path_ptr_ = nullptr;
  Dwfl* dwfl_ = nullptr;
  Dwfl_Module* module_ = nullptr;
  Elf* elf_ = nullptr;
  GElf_Addr bias_ = 0;
  std::vector<GElf_Phdr> loads_;
};

// ---------------------------------------------------------------- finding files

bool Matches(const std::string& path, const std::string& build_id) {
  if (!IsFile(path)) return false;
  return build_id.empty() || ReadBuildId(path) == build_id;
}

// Files named `base` below `dir`, a bounded walk.
std::string FindByName(const std::string& dir, const std::string& base,
                       const std::string& build_id) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  size_t visited = 0;
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (++visited > 100000) break;
    if (it.depth() > 6) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().filename() == base && Matches(it->path().string(), build_id)) {
      return it->path().string();
    }
  }
  return "";
}

// Where the binary named by a mapping is, or "".
std::string LocateBinary(const std::string& path, const std::string& build_id,
                         const SymbolizeOptions& options) {
  if (Matches(path, build_id)) return path;
  const std::string base = fs::path(path).filename().string();
  const bool bid_ok = build_id.size() > 2;
  for (const std::string& dir : options.symbol_dirs) {
    if (bid_ok) {
      std::string p = dir + "/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2);
      if (Matches(p + ".debug", build_id)) return p + ".debug";
      if (Matches(p, build_id)) return p;
    }
    if (!base.empty() && Matches(dir + "/" + base, build_id)) return dir + "/" + base;
  }
  for (const std::string& dir : options.symbol_dirs) {
    if (base.empty()) break;
    if (std::string p = FindByName(dir, base, build_id); !p.empty()) return p;
  }
  if (bid_ok) {
    for (const std::string& root : options.debug_roots) {
      std::string p =
          root + "/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) + ".debug";
      if (Matches(p, build_id)) return p;
    }
  }
  return "";
}

bool IsSymbolizable(std::string_view file) {
  return !file.empty() && file[0] == '/' && !file.starts_with("/dev/") &&
         !file.starts_with("/memfd:") && !file.ends_with(" (deleted)");
}

// ---------------------------------------------------------------- profile edits

// Builds the new Function table entries and string indices.
class ProfileEditor {
 public:
  explicit ProfileEditor(format::Profile& p) : p_(p) {
    for (size_t i = 0; i < p.strings().size(); i++) {
      strings_.emplace(std::string(p.String(static_cast<format::StringIndex>(i))),
                       static_cast<format::StringIndex>(i));
    }
    for (const format::Function& f : p.functions) next_id_ = std::max(next_id_, f.id + 1);
  }

  format::StringIndex Intern(const std::string& s) {
    auto it = strings_.find(s);
    if (it != strings_.end()) return it->second;
    format::StringIndex i = p_.AddString(s);
    strings_.emplace(s, i);
    return i;
  }

  uint32_t FunctionFor(const Frame& f) {
    std::string key = f.name + '\0' + f.system_name + '\0' + f.file;
    auto it = functions_.find(key);
    if (it != functions_.end()) return it->second;
    format::Function fn;
    fn.id = next_id_++;
    fn.name = Intern(f.name);
    fn.system_name = Intern(f.system_name);
    fn.filename = Intern(f.file);
    fn.start_line = f.start_line;
    p_.functions.push_back(fn);
    const uint32_t index = static_cast<uint32_t>(p_.functions.size() - 1);
    functions_.emplace(std::move(key), index);
    return index;
  }

 private:
  format::Profile& p_;
  std::unordered_map<std::string, format::StringIndex> strings_;
  std::unordered_map<std::string, uint32_t> functions_;
  uint64_t next_id_ = 1;
};

bool HasLineInfo(const Frames& frames) {
  for (const Frame& f : frames) {
    if (f.line > 0) return true;
  }
  return false;
}

}  // namespace

std::string DefaultSymbolCacheDir() {
  if (const char* x = getenv("XDG_CACHE_HOME"); x != nullptr && x[0] == '/') {
    return std::string(x) + "/heapscope/symbols";
  }
  if (const char* h = getenv("HOME"); h != nullptr && h[0] == '/') {
    return std::string(h) + "/.cache/heapscope/symbols";
  }
  return "";
}

std::string ReadBuildId(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  elf_version(EV_CURRENT);
  std::string out;
  if (Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr); elf != nullptr) {
    const void* id = nullptr;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    static const char kHex[] = "0123456789abcdef";
    for (ssize_t i = 0; i < n; i++) {
      uint8_t b = static_cast<const uint8_t*>(id)[i];
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
    elf_end(elf);
  }
  close(fd);
  return out;
}

format::Result<SymbolizeStats> Symbolize(format::Profile& profile,
                                         const SymbolizeOptions& options) {
  SymbolizeStats stats;
  elf_version(EV_CURRENT);
  const std::string cache_dir =
      !options.use_cache
          ? ""
          : (options.cache_dir.empty() ? DefaultSymbolCacheDir() : options.cache_dir);

  // Locations by file (several mappings, one per segment, share a file).
  struct FileWork {
    std::string build_id;
    std::vector<uint32_t> locations;
  };
  std::map<std::string, FileWork> by_file;
  for (uint32_t li = 0; li < profile.locations.size(); li++) {
    const format::Location& loc = profile.locations[li];
    if (loc.mapping == format::kNoIndex || loc.mapping >= profile.mappings.size()) continue;
    const format::Mapping& m = profile.mappings[loc.mapping];
    std::string file(profile.String(m.filename));
    if (!IsSymbolizable(file)) continue;
    if (loc.address < m.memory_start) continue;
    FileWork& w = by_file[file];
    if (w.build_id.empty()) w.build_id = std::string(profile.String(m.build_id));
    w.locations.push_back(li);
    stats.locations++;
  }

  // Frames per location, when symbolized.
  std::vector<const Frames*> result(profile.locations.size(), nullptr);
  std::deque<Frames> storage;
  std::vector<uint32_t> symbolized_mappings;
  auto file_offset = [&](uint32_t li) {
    const format::Location& loc = profile.locations[li];
    const format::Mapping& m = profile.mappings[loc.mapping];
    return loc.address - m.memory_start + m.file_offset;
  };

  std::deque<std::unordered_map<uint64_t, Frames>> caches;  // Outlive `result`'s pointers.
  for (auto& [file, work] : by_file) {
    std::unordered_map<uint64_t, Frames>& cached = caches.emplace_back();
    // Profiles without build IDs (legacy formats) are keyed by the build ID
    // of the file they name, read now.
    const std::string cache_key =
        !work.build_id.empty() || cache_dir.empty() ? work.build_id : ReadBuildId(file);
    const bool cacheable = !cache_dir.empty() && !cache_key.empty() &&
                           cache_key.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (cacheable) LoadCache(cache_dir + "/" + cache_key + std::string(kCacheSuffix), &cached);
    std::vector<uint32_t> missing;
    for (uint32_t li : work.locations) {
      auto it = cached.find(file_offset(li));
      if (it != cached.end()) {
        result[li] = &it->second;
        stats.from_cache++;
      } else {
        missing.push_back(li);
      }
    }
    if (!missing.empty()) {
      std::string path = LocateBinary(file, work.build_id, options);
      if (path.empty()) {
        if (IsFile(file)) {
          stats.warnings.push_back(file + ": its build ID differs from the profile's (" +
                                   work.build_id +
                                   "): the binary was rebuilt; give the original with "
                                   "--symbols DIR");
        } else {
          stats.warnings.push_back(file +
                                   ": not found; give a directory holding it with "
                                   "--symbols DIR");
        }
        // Cached frames still apply below.
      } else {
        std::vector<std::string> debug_dirs = options.debug_roots;
        debug_dirs.insert(debug_dirs.end(), options.symbol_dirs.begin(), options.symbol_dirs.end());
        std::unique_ptr<DwarfFile> dwarf = DwarfFile::Open(path, debug_dirs);
        if (dwarf == nullptr) {
          stats.warnings.push_back(path + ": not an ELF file libdw can read: " + dwfl_errmsg(-1));
        } else {
          stats.binaries_opened++;
          std::unordered_map<uint64_t, const Frames*> done;
          std::vector<std::pair<uint64_t, const Frames*>> fresh;
          for (uint32_t li : missing) {
            const uint64_t off = file_offset(li);
            auto it = done.find(off);
            if (it == done.end()) {
              const Frames* f = &storage.emplace_back(dwarf->Lookup(off));
              it = done.emplace(off, f).first;
              fresh.emplace_back(off, f);
            }
            result[li] = it->second;
          }
          if (cacheable) AppendCache(cache_dir, cache_key, fresh);
        }
      }
    }
  }

  // Rebuild the line table: symbolized locations take their frames, the
  // rest keep their lines.
  ProfileEditor editor(profile);
  std::vector<format::Line> lines;
  lines.reserve(profile.lines.size());
  std::vector<uint8_t> mapping_done(profile.mappings.size(), 0);
  for (uint32_t li = 0; li < profile.locations.size(); li++) {
    format::Location& loc = profile.locations[li];
    const Frames* frames = result[li];
    const bool replace =
        frames != nullptr && !frames->empty() && (HasLineInfo(*frames) || loc.line_count == 0);
    const uint32_t begin = static_cast<uint32_t>(lines.size());
    if (replace) {
      for (const Frame& f : *frames) {
        lines.push_back({editor.FunctionFor(f), f.line, 0});
      }
      if (HasLineInfo(*frames)) {
        stats.with_lines++;
        mapping_done[loc.mapping] = 1;
      }
    } else {
      for (const format::Line& l : profile.LinesOf(loc)) lines.push_back(l);
    }
    loc.line_begin = begin;
    loc.line_count = static_cast<uint32_t>(lines.size() - begin);
  }
  profile.lines = std::move(lines);
  for (size_t i = 0; i < profile.mappings.size(); i++) {
    if (!mapping_done[i]) continue;
    format::Mapping& m = profile.mappings[i];
    m.has_functions = m.has_filenames = m.has_line_numbers = m.has_inline_frames = true;
  }
  return stats;
}

void DropInlinedFrames(format::Profile& profile) {
  for (format::Location& loc : profile.locations) {
    if (loc.line_count <= 1) continue;
    loc.line_begin += loc.line_count - 1;
    loc.line_count = 1;
  }
}

void UseLinesAsFunctions(format::Profile& profile) {
  std::unordered_map<std::string, format::StringIndex> strings;
  std::map<std::pair<uint32_t, int64_t>, uint32_t> functions;
  uint64_t next_id = 1;
  for (const format::Function& f : profile.functions) next_id = std::max(next_id, f.id + 1);
  for (format::Line& line : profile.lines) {
    if (line.line <= 0 || line.function >= profile.functions.size()) continue;
    auto key = std::make_pair(line.function, line.line);
    auto it = functions.find(key);
    if (it == functions.end()) {
      const format::Function old = profile.functions[line.function];
      std::string file(profile.String(old.filename));
      std::string name = DisplayName(profile.String(old.name), profile.String(old.system_name));
      std::string label =
          name + " " + (file.empty() ? "?" : file) + ":" + std::to_string(line.line);
      format::Function fn = old;
      fn.id = next_id++;
      fn.name = profile.AddString(label);
      // A system name that differs keeps the label as written (DisplayName).
      fn.system_name = 0;
      profile.functions.push_back(fn);
      it = functions.emplace(key, static_cast<uint32_t>(profile.functions.size() - 1)).first;
    }
    line.function = it->second;
  }
}

}  // namespace heapscope::analyze
