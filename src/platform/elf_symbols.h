// Function symbols of an ELF file on disk (.symtab, else .dynsym), read
// with mmap into arena memory, for naming addresses at dump time without a
// debugger or DWARF. Never allocates through malloc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/mmap_arena.h"

namespace heapscope::platform {

class ElfSymbols {
 public:
  struct Symbol {
    uint64_t addr;  // ELF virtual address
    uint64_t size;
    const char* name;  // mangled, arena-owned
    const char* demangled;  // filled lazily by the caller, may stay null
  };

  // Loads the symbols of `path`. Returns false if the file cannot be read
  // or is not a 64-bit ELF file; the table is then empty.
  bool Load(const char* path, base::MmapArena* arena);

  // The function containing ELF virtual address `vaddr`, or nullptr.
  Symbol* Find(uint64_t vaddr);

  size_t size() const { return count_; }
  // Read from a full symbol table (.symtab), not only the dynamic one.
  bool full() const { return full_; }

 private:
  Symbol* symbols_ = nullptr;
  size_t count_ = 0;
  bool full_ = false;
};

}  // namespace heapscope::platform
