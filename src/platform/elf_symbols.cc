#include "platform/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace heapscope::platform {
namespace {

// Maps a file read-only for the duration of one load.
class MappedFile {
 public:
  explicit MappedFile(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const uint8_t*>(p);
        size_ = static_cast<size_t>(st.st_size);
      }
    }
    close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

bool InBounds(size_t off, size_t len, size_t total) { return off <= total && len <= total - off; }

}  // namespace

bool ElfSymbols::Load(const char* path, base::MmapArena* arena) {
  symbols_ = nullptr;
  count_ = 0;
  full_ = false;
  MappedFile f(path);
  const uint8_t* d = f.data();
  size_t n = f.size();
  if (d == nullptr || n < sizeof(Elf64_Ehdr)) return false;
  const Elf64_Ehdr* eh = reinterpret_cast<const Elf64_Ehdr*>(d);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
      !InBounds(eh->e_shoff, size_t{eh->e_shnum} * sizeof(Elf64_Shdr), n)) {
    return false;
  }
  const Elf64_Shdr* sh = reinterpret_cast<const Elf64_Shdr*>(d + eh->e_shoff);
  // Prefer the full symbol table; stripped files keep only .dynsym.
  const Elf64_Shdr* symtab = nullptr;
  for (int pass = 0; pass < 2 && symtab == nullptr; pass++) {
    uint32_t want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
    for (size_t i = 0; i < eh->e_shnum; i++) {
      if (sh[i].sh_type == want && sh[i].sh_size > 0) {
        symtab = &sh[i];
        break;
      }
    }
  }
  if (symtab == nullptr || symtab->sh_link >= eh->e_shnum) return false;
  const Elf64_Shdr* strtab = &sh[symtab->sh_link];
  if (!InBounds(symtab->sh_offset, symtab->sh_size, n) ||
      !InBounds(strtab->sh_offset, strtab->sh_size, n) || symtab->sh_entsize != sizeof(Elf64_Sym)) {
    return false;
  }
  const Elf64_Sym* syms = reinterpret_cast<const Elf64_Sym*>(d + symtab->sh_offset);
  size_t nsyms = symtab->sh_size / sizeof(Elf64_Sym);
  const char* strs = reinterpret_cast<const char*>(d + strtab->sh_offset);
  size_t strs_size = strtab->sh_size;

  size_t nfunc = 0;
  for (size_t i = 0; i < nsyms; i++) {
    unsigned type = ELF64_ST_TYPE(syms[i].st_info);
    if ((type == STT_FUNC || type == STT_GNU_IFUNC) && syms[i].st_value != 0 &&
        syms[i].st_shndx != SHN_UNDEF && syms[i].st_name < strs_size) {
      nfunc++;
    }
  }
  if (nfunc == 0) return false;
  Symbol* out = static_cast<Symbol*>(arena->Alloc(nfunc * sizeof(Symbol), alignof(Symbol)));
  if (out == nullptr) return false;
  size_t k = 0;
  for (size_t i = 0; i < nsyms && k < nfunc; i++) {
    const Elf64_Sym& s = syms[i];
    unsigned type = ELF64_ST_TYPE(s.st_info);
    if (!((type == STT_FUNC || type == STT_GNU_IFUNC) && s.st_value != 0 &&
          s.st_shndx != SHN_UNDEF && s.st_name < strs_size)) {
      continue;
    }
    const char* name = strs + s.st_name;
    size_t len = strnlen(name, strs_size - s.st_name);
    char* copy = static_cast<char*>(arena->Alloc(len + 1, 1));
    if (copy == nullptr) break;
    memcpy(copy, name, len);
    copy[len] = '\0';
    out[k++] = Symbol{s.st_value, s.st_size, copy, nullptr};
  }
  // Sort by address; among aliases at one address prefer a sized, global,
  // then shorter name (so "malloc" wins over "__libc_malloc").
  std::sort(out, out + k, [](const Symbol& a, const Symbol& b) {
    if (a.addr != b.addr) return a.addr < b.addr;
    if ((a.size != 0) != (b.size != 0)) return a.size != 0;
    bool ua = a.name[0] == '_' && a.name[1] == '_';
    bool ub = b.name[0] == '_' && b.name[1] == '_';
    if (ua != ub) return !ua;
    return strlen(a.name) < strlen(b.name);
  });
  // Drop aliases: keep the first symbol at each address.
  size_t w = 0;
  for (size_t i = 0; i < k; i++) {
    if (w > 0 && out[w - 1].addr == out[i].addr) continue;
    out[w++] = out[i];
  }
  symbols_ = out;
  count_ = w;
  full_ = symtab->sh_type == SHT_SYMTAB;
  return true;
}

ElfSymbols::Symbol* ElfSymbols::Find(uint64_t vaddr) {
  if (count_ == 0) return nullptr;
  Symbol* end = symbols_ + count_;
  Symbol* it = std::upper_bound(symbols_, end, vaddr,
                                [](uint64_t v, const Symbol& s) { return v < s.addr; });
  if (it == symbols_) return nullptr;
  Symbol* s = it - 1;
  // Symbols without a size (hand-written assembly) extend to the next one.
  if (s->size != 0 && vaddr >= s->addr + s->size) return nullptr;
  return s;
}

}  // namespace heapscope::platform
