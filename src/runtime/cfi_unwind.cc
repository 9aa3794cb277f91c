#include "runtime/cfi_unwind.h"

#include <elf.h>
#include <link.h>
#include <string.h>

#include <atomic>

#include "base/base.h"
#include "base/mmap_arena.h"
#ifdef HS_UNWIND_VERIFY
#include "base/raw_log.h"
#endif

namespace heapscope::runtime {
namespace {

// DWARF register numbers on x86-64.
constexpr unsigned kRbp = 6;
constexpr unsigned kRsp = 7;
constexpr unsigned kRa = 16;

// A frame's rule, packed in 64 bits:
//   bits  0..31  CFA offset (signed)
//   bits 32..47  where the caller's %rbp is saved, relative to the CFA (signed)
//   bit  48      CFA is %rbp + offset (else %rsp + offset)
//   bit  49      %rbp saved in this frame (else the caller's %rbp is ours)
//   bit  50      outermost frame (return address undefined)
//   bit  51      not handled here: the whole walk goes to libunwind
//   bit  63      set, so no rule is 0 (an empty slot)
constexpr uint64_t kCfaRbp = uint64_t{1} << 48;
constexpr uint64_t kRbpSaved = uint64_t{1} << 49;
constexpr uint64_t kOutermost = uint64_t{1} << 50;
constexpr uint64_t kUnhandled = uint64_t{1} << 51;
constexpr uint64_t kRuleValid = uint64_t{1} << 63;
constexpr uint64_t kUnhandledRule = kRuleValid | kUnhandled;
// Code without CFI (the loader's entry point, JIT code) or an address in no
// loaded object: libunwind, which can go on by frame pointers, decides.
constexpr uint64_t kNoFdeRule = kUnhandledRule;

// Distinct rules are few (a few hundred in a large program): they are
// interned and named by a small number, so the address cache holds address
// and rule id in one word that is read and written atomically (no torn
// entries, no locks, nothing to do at fork). Ids are handed out in order,
// so the rules a walk reads sit together in a few cache lines; a
// lock-free open-addressing index finds a rule's id when interning.
constexpr int kRuleBits = 16;
constexpr size_t kRules = size_t{1} << kRuleBits;
// Address cache: direct-mapped; a collision just overwrites. Keyed by the
// return address (the rule is the call's, at the address before it) and
// indexed by its low bits alone, so that the return addresses of one
// function, and of functions laid out together, share cache lines (a
// walk's lookups touch fewer of them than under a hash that scatters every
// address), and the index is one instruction on the walk's chain of
// dependent loads. bench-unwind's walks with every frame a lookup, 4 / 16 /
// 64 frames: 131-137 / 231-236 / 591-614 ns keyed by the call's address
// and indexed by a fold of it, 118 / 201-202 / 524-529 ns so.
constexpr int kCacheBits = 16;
constexpr size_t kCacheSlots = size_t{1} << kCacheBits;
constexpr int kAddrBits = 47;  // x86-64 user-space addresses
constexpr uint64_t kAddrMask = (uint64_t{1} << kAddrBits) - 1;

struct RuleSlot {
  std::atomic<uint64_t> rule;  // 0: empty
  std::atomic<uint32_t> id;    // 0 until published
};

std::atomic<uint64_t>* g_rules = nullptr;  // by id (0 unused)
std::atomic<uint32_t> g_rule_count{0};
RuleSlot* g_rule_index = nullptr;          // by hash of the rule
std::atomic<uint64_t>* g_cache = nullptr;

HS_ALWAYS_INLINE size_t CacheIndex(uintptr_t ra) {
  return static_cast<size_t>(ra & (kCacheSlots - 1));
}

// The id of `rule`, interning it. 0 when the table is full, or while
// another thread is publishing the same rule (the caller then just does
// not cache it this time).
uint32_t InternRule(uint64_t rule) {
  size_t i = static_cast<size_t>((rule * 0xff51afd7ed558ccdULL) >> (64 - kRuleBits));
  for (size_t n = 0; n < kRules; n++, i = (i + 1) & (kRules - 1)) {
    RuleSlot& slot = g_rule_index[i];
    uint64_t v = slot.rule.load(std::memory_order_acquire);
    if (v == 0) {
      if (slot.rule.compare_exchange_strong(v, rule, std::memory_order_acq_rel)) {
        uint32_t id = g_rule_count.fetch_add(1, std::memory_order_relaxed) + 1;
        if (id >= kRules) return 0;  // the slot keeps id 0: never cached
        g_rules[id].store(rule, std::memory_order_release);
        slot.id.store(id, std::memory_order_release);
        return id;
      }
      // v is now what another thread put there.
    }
    if (v == rule) return slot.id.load(std::memory_order_acquire);
  }
  return 0;
}

// ---- Reading .eh_frame_hdr, CIEs and FDEs ----

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  uint8_t U8() {
    if (p >= end) return Fail();
    return *p++;
  }
  template <typename T>
  T Fixed() {
    if (static_cast<size_t>(end - p) < sizeof(T)) return static_cast<T>(Fail());
    T v;
    memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  uint64_t Uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = U8();
      if (!ok) return 0;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }
  int64_t Sleb() {
    uint64_t v = 0;
    int shift = 0;
    uint8_t b;
    do {
      b = U8();
      if (!ok || shift >= 64) return static_cast<int64_t>(Fail());
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) != 0);
    if (shift < 64 && (b & 0x40) != 0) v |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(v);
  }
  // A DW_EH_PE-encoded pointer. `datarel` is the base of datarel values
  // (the .eh_frame_hdr). Indirect pointers are returned as the address
  // of the pointer (only skipped, never followed).
  uintptr_t Encoded(uint8_t enc, uintptr_t datarel) {
    if (enc == 0xff) return 0;  // DW_EH_PE_omit
    uintptr_t field = reinterpret_cast<uintptr_t>(p);
    uint64_t v;
    switch (enc & 0x0f) {
      case 0x00: v = Fixed<uint64_t>(); break;
      case 0x01: v = Uleb(); break;
      case 0x02: v = Fixed<uint16_t>(); break;
      case 0x03: v = Fixed<uint32_t>(); break;
      case 0x04: v = Fixed<uint64_t>(); break;
      case 0x09: v = static_cast<uint64_t>(Sleb()); break;
      case 0x0a: v = static_cast<uint64_t>(static_cast<int64_t>(Fixed<int16_t>())); break;
      case 0x0b: v = static_cast<uint64_t>(static_cast<int64_t>(Fixed<int32_t>())); break;
      case 0x0c: v = Fixed<uint64_t>(); break;
      default: return Fail();
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += field; break;
      case 0x30: v += datarel; break;
      default: return Fail();
    }
    return static_cast<uintptr_t>(v);
  }
  uint64_t Fail() {
    ok = false;
    p = end;
    return 0;
  }
};

// What the CFA program says about the registers the walk needs.
struct Row {
  unsigned cfa_reg = kRsp;
  int64_t cfa_off = 8;
  bool cfa_other = false;  // CFA from another register or an expression
  int rbp_how = 0;  // 0: same value, 1: saved at CFA + rbp_off, 2: other
  int64_t rbp_off = 0;
  int ra_how = 1;  // 0: undefined, 1: saved at CFA + ra_off, 2: other
  int64_t ra_off = -8;
};

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = -8;
  unsigned ra_reg = kRa;
  uint8_t fde_enc = 0;  // DW_EH_PE_absptr
  bool has_z = false;
  bool signal_frame = false;
  const uint8_t* insns = nullptr;
  const uint8_t* insns_end = nullptr;
};

bool ParseCie(const uint8_t* cie, Cie* c) {
  Reader r{cie, cie + 4};
  uint32_t len = r.Fixed<uint32_t>();
  if (len == 0 || len == 0xffffffff) return false;
  r.end = cie + 4 + len;
  if (r.Fixed<uint32_t>() != 0) return false;  // CIE id
  uint8_t version = r.U8();
  if (version != 1 && version != 3) return false;
  const char* aug = reinterpret_cast<const char*>(r.p);
  size_t aug_len = strnlen(aug, static_cast<size_t>(r.end - r.p));
  r.p += aug_len + 1;
  c->code_align = r.Uleb();
  c->data_align = r.Sleb();
  c->ra_reg = version == 1 ? r.U8() : static_cast<unsigned>(r.Uleb());
  const uint8_t* aug_end = nullptr;
  for (size_t i = 0; i < aug_len && r.ok; i++) {
    char ch = aug[i];
    if (i == 0 && ch == 'z') {
      c->has_z = true;
      uint64_t n = r.Uleb();
      aug_end = r.p + n;
    } else if (ch == 'R') {
      c->fde_enc = r.U8();
    } else if (ch == 'P') {
      uint8_t enc = r.U8();
      r.Encoded(static_cast<uint8_t>(enc & 0x7f), 0);
    } else if (ch == 'L') {
      r.U8();
    } else if (ch == 'S') {
      c->signal_frame = true;
    } else {
      if (aug_end == nullptr) return false;  // cannot skip what we do not know
      break;
    }
  }
  if (!r.ok) return false;
  if (aug_end != nullptr) r.p = aug_end;
  if (r.p > r.end) return false;
  c->insns = r.p;
  c->insns_end = r.end;
  return c->ra_reg == kRa;
}

// Runs a CFA program up to `target` (relative to the FDE start `loc`).
// Returns false on an instruction it does not handle.
bool Execute(const uint8_t* p, const uint8_t* end, const Cie& c, uintptr_t loc,
             uintptr_t target, const Row& initial, Row* row) {
  Row stack[8];
  int depth = 0;
  Reader r{p, end};
  auto set_offset = [&](uint64_t reg, int64_t off) {
    if (reg == kRbp) {
      row->rbp_how = 1;
      row->rbp_off = off;
    } else if (reg == kRa) {
      row->ra_how = 1;
      row->ra_off = off;
    }
  };
  auto set_other = [&](uint64_t reg) {
    if (reg == kRbp) row->rbp_how = 2;
    if (reg == kRa) row->ra_how = 2;
  };
  auto restore = [&](uint64_t reg) {
    if (reg == kRbp) {
      row->rbp_how = initial.rbp_how;
      row->rbp_off = initial.rbp_off;
    } else if (reg == kRa) {
      row->ra_how = initial.ra_how;
      row->ra_off = initial.ra_off;
    }
  };
  auto advance = [&](uint64_t delta) {
    loc += delta * c.code_align;
    return loc <= target;
  };
  while (r.ok && r.p < r.end) {
    uint8_t op = r.U8();
    uint8_t low = op & 0x3f;
    switch (op & 0xc0) {
      case 0x40:
        if (!advance(low)) return true;
        continue;
      case 0x80:
        set_offset(low, static_cast<int64_t>(r.Uleb()) * c.data_align);
        continue;
      case 0xc0:
        restore(low);
        continue;
      default:
        break;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x02:
        if (!advance(r.U8())) return true;
        break;
      case 0x03:
        if (!advance(r.Fixed<uint16_t>())) return true;
        break;
      case 0x04:
        if (!advance(r.Fixed<uint32_t>())) return true;
        break;
      case 0x05: {  // offset_extended
        uint64_t reg = r.Uleb();
        set_offset(reg, static_cast<int64_t>(r.Uleb()) * c.data_align);
        break;
      }
      case 0x06:  // restore_extended
        restore(r.Uleb());
        break;
      case 0x07: {  // undefined
        uint64_t reg = r.Uleb();
        if (reg == kRa) row->ra_how = 0;
        if (reg == kRbp) row->rbp_how = 2;
        break;
      }
      case 0x08: {  // same_value
        uint64_t reg = r.Uleb();
        if (reg == kRbp) row->rbp_how = 0;
        if (reg == kRa) row->ra_how = 2;
        break;
      }
      case 0x09: {  // register
        uint64_t reg = r.Uleb();
        r.Uleb();
        set_other(reg);
        break;
      }
      case 0x0a:  // remember_state
        if (depth == 8) return false;
        stack[depth++] = *row;
        break;
      case 0x0b:  // restore_state: the CFA too, as GCC's epilogues expect
        if (depth == 0) return false;
        *row = stack[--depth];
        break;
      case 0x0c:  // def_cfa
        row->cfa_reg = static_cast<unsigned>(r.Uleb());
        row->cfa_off = static_cast<int64_t>(r.Uleb());
        row->cfa_other = false;
        break;
      case 0x0d:  // def_cfa_register
        row->cfa_reg = static_cast<unsigned>(r.Uleb());
        row->cfa_other = false;
        break;
      case 0x0e:  // def_cfa_offset
        row->cfa_off = static_cast<int64_t>(r.Uleb());
        break;
      case 0x0f: {  // def_cfa_expression
        uint64_t n = r.Uleb();
        r.p += n <= static_cast<uint64_t>(r.end - r.p) ? n : static_cast<uint64_t>(r.end - r.p);
        row->cfa_other = true;
        break;
      }
      case 0x10:    // expression
      case 0x16: {  // val_expression
        uint64_t reg = r.Uleb();
        uint64_t n = r.Uleb();
        if (n > static_cast<uint64_t>(r.end - r.p)) return false;
        r.p += n;
        set_other(reg);
        break;
      }
      case 0x11: {  // offset_extended_sf
        uint64_t reg = r.Uleb();
        set_offset(reg, r.Sleb() * c.data_align);
        break;
      }
      case 0x12:  // def_cfa_sf
        row->cfa_reg = static_cast<unsigned>(r.Uleb());
        row->cfa_off = r.Sleb() * c.data_align;
        row->cfa_other = false;
        break;
      case 0x13:  // def_cfa_offset_sf
        row->cfa_off = r.Sleb() * c.data_align;
        break;
      case 0x14:    // val_offset
      case 0x15: {  // val_offset_sf
        uint64_t reg = r.Uleb();
        if (op == 0x14) {
          r.Uleb();
        } else {
          r.Sleb();
        }
        set_other(reg);
        break;
      }
      case 0x2e:  // GNU_args_size
        r.Uleb();
        break;
      case 0x2f: {  // GNU_negative_offset_extended
        uint64_t reg = r.Uleb();
        set_offset(reg, -static_cast<int64_t>(r.Uleb()) * c.data_align);
        break;
      }
      default:
        return false;  // set_loc, vendor extensions
    }
  }
  return r.ok;
}

uint64_t Pack(const Row& row) {
  if (row.cfa_other || (row.cfa_reg != kRsp && row.cfa_reg != kRbp)) return kUnhandledRule;
  if (row.ra_how == 0) return kRuleValid | kOutermost;
  if (row.ra_how != 1 || row.ra_off != -8) return kUnhandledRule;
  if (row.rbp_how == 2) return kUnhandledRule;
  if (row.cfa_off < INT32_MIN || row.cfa_off > INT32_MAX) return kUnhandledRule;
  uint64_t rule = kRuleValid | static_cast<uint32_t>(static_cast<int32_t>(row.cfa_off));
  if (row.cfa_reg == kRbp) rule |= kCfaRbp;
  if (row.rbp_how == 1) {
    if (row.rbp_off < INT16_MIN || row.rbp_off > INT16_MAX) return kUnhandledRule;
    rule |= kRbpSaved | static_cast<uint64_t>(static_cast<uint16_t>(row.rbp_off)) << 32;
  }
  return rule;
}

// The rule at `addr`, from the FDE covering it in the .eh_frame_hdr at hdr.
uint64_t RuleFromHdr(const uint8_t* hdr, uintptr_t addr) {
  Reader r{hdr, hdr + 4 + 16};
  if (r.U8() != 1) return kUnhandledRule;
  uint8_t ptr_enc = r.U8();
  uint8_t count_enc = r.U8();
  uint8_t table_enc = r.U8();
  uintptr_t base = reinterpret_cast<uintptr_t>(hdr);
  r.Encoded(ptr_enc, base);
  uint64_t count = r.Encoded(count_enc, base);
  if (!r.ok || table_enc != 0x3b) return kUnhandledRule;  // datarel|sdata4
  if (count == 0) return kNoFdeRule;
  const int32_t* table = reinterpret_cast<const int32_t*>(r.p);
  // Last entry whose start is <= addr.
  uint64_t lo = 0, hi = count;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (base + static_cast<intptr_t>(table[2 * mid]) <= addr) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (base + static_cast<intptr_t>(table[2 * lo]) > addr) return kNoFdeRule;
  const uint8_t* fde = hdr + table[2 * lo + 1];
  uint32_t len;
  memcpy(&len, fde, 4);
  if (len == 0 || len == 0xffffffff) return kUnhandledRule;
  Reader f{fde + 4, fde + 4 + len};
  uint32_t cie_off = f.Fixed<uint32_t>();
  if (cie_off == 0) return kUnhandledRule;
  const uint8_t* cie = fde + 4 - cie_off;
  Cie c;
  if (!ParseCie(cie, &c) || c.signal_frame) return kUnhandledRule;
  uintptr_t start = f.Encoded(c.fde_enc, base);
  uintptr_t range = f.Encoded(static_cast<uint8_t>(c.fde_enc & 0x0f), base);
  if (!f.ok) return kUnhandledRule;
  if (addr < start || addr - start >= range) return kNoFdeRule;
  if (c.has_z) {
    uint64_t n = f.Uleb();
    if (!f.ok || n > static_cast<uint64_t>(f.end - f.p)) return kUnhandledRule;
    f.p += n;
  }
  Row initial;
  if (!Execute(c.insns, c.insns_end, c, 0, 0, initial, &initial)) return kUnhandledRule;
  // The CIE's program has no advances in practice; run it whole.
  Row row = initial;
  if (!Execute(f.p, f.end, c, start, addr, initial, &row)) return kUnhandledRule;
  return Pack(row);
}

struct Lookup {
  uintptr_t addr;
  uint64_t rule;
};

int FindObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* l = static_cast<Lookup*>(data);
  const ElfW(Phdr)* eh = nullptr;
  bool inside = false;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) {
      uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
      if (l->addr >= begin && l->addr - begin < ph.p_memsz) inside = true;
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      eh = &ph;
    }
  }
  if (!inside) return 0;
  l->rule = eh == nullptr ? kNoFdeRule
                          : RuleFromHdr(reinterpret_cast<const uint8_t*>(info->dlpi_addr +
                                                                          eh->p_vaddr),
                                        l->addr);
  return 1;
}

// The rule of the call that returns to `ra`, at ra - 1.
HS_NOINLINE uint64_t RuleSlow(uintptr_t ra) {
  const uintptr_t addr = ra - 1;
  Lookup l{addr, kNoFdeRule};
  dl_iterate_phdr(FindObject, &l);
#ifdef HS_UNWIND_VERIFY
  if ((l.rule & kUnhandled) != 0) {
    char msg[128];
    base::RawBuffer b(msg, sizeof msg);
    base::RawLog(b.Str("cfi: unhandled at ").Hex(addr).CStr());
  }
#endif
  if (ra <= kAddrMask) {
    uint32_t id = InternRule(l.rule);
    if (id != 0) {
      g_cache[CacheIndex(ra)].store(ra | static_cast<uint64_t>(id) << kAddrBits,
                                    std::memory_order_relaxed);
    }
  }
  return l.rule;
}

// The cached rule of the call returning to ra, or 0.
HS_ALWAYS_INLINE uint64_t RuleCached(uintptr_t ra) {
  uint64_t v = g_cache[CacheIndex(ra)].load(std::memory_order_relaxed);
  if ((v & kAddrMask) != ra) return 0;
  return g_rules[v >> kAddrBits].load(std::memory_order_relaxed);
}

// The rule of the call returning to ra (for an interrupted instruction at
// pc: ra = pc + 1).
HS_ALWAYS_INLINE uint64_t RuleFor(uintptr_t ra) {
  uint64_t v = g_cache[CacheIndex(ra)].load(std::memory_order_relaxed);
  if (HS_LIKELY((v & kAddrMask) == ra)) {
    // Rules are published before any cache word names them.
    return g_rules[v >> kAddrBits].load(std::memory_order_relaxed);
  }
  return RuleSlow(ra);
}

}  // namespace

bool InitCfiUnwinder() {
  if (g_cache != nullptr) return true;
  auto* rules = static_cast<std::atomic<uint64_t>*>(base::MapPages(kRules * sizeof(uint64_t)));
  auto* index = static_cast<RuleSlot*>(base::MapPages(kRules * sizeof(RuleSlot)));
  auto* cache =
      static_cast<std::atomic<uint64_t>*>(base::MapPages(kCacheSlots * sizeof(uint64_t)));
  if (rules == nullptr || index == nullptr || cache == nullptr) return false;
  g_rules = rules;
  g_rule_index = index;
  g_cache = cache;
  return true;
}

// Bumped by every flush: a thread's remembered walk (below) is only
// replayed under the generation it was made in.
static std::atomic<uint32_t> g_generation{1};

void FlushCfiCache() {
  if (g_cache == nullptr) return;
  for (size_t i = 0; i < kCacheSlots; i++) g_cache[i].store(0, std::memory_order_relaxed);
  g_generation.fetch_add(1, std::memory_order_release);
}

namespace {

// ---- Replaying the outer part of the last walk ----
//
// A thread's consecutive stacks usually share their outer frames (the
// thread's start, its event loop, the request handler) and differ near the
// leaf. Each thread remembers its last complete walk: every step's state
// (return address, %rsp, %rbp as the walk had them) and how it moved on.
// A step of the walk is a function of that state and of the stack words it
// reads (the return address at CFA - 8, the caller's %rbp where this frame
// saved it), given the rules, which only a flush changes. So when a new
// walk reaches a state the last walk also had, and every stack word the
// last walk read from there on still holds what it read, the rest of the
// new walk is the rest of the last one: those words are compared (loads
// that do not depend on each other, instead of a chain of table lookups)
// and the remembered return addresses copied. %rbp is compared only where
// the rest of the walk uses it before reloading it from the stack.
// The outermost kRememberedSteps steps are kept, root first, so a
// replayed tail stays where it is and only the new leaf-side steps are
// written back.
constexpr int kRememberedSteps = 64;
// A step's meta word: bits 32..50 of its rule as they are (so it is made
// with one shift), and flags of the walk above them.
constexpr uint64_t kStepRbpOffsetMask = 0xffff;  // where this frame saved %rbp, from the CFA
constexpr uint64_t kStepCfaRbp = kCfaRbp >> 32;
constexpr uint64_t kStepRbpSaved = kRbpSaved >> 32;
constexpr uint64_t kStepOutermost = kOutermost >> 32;  // the walk ended after this step
constexpr uint64_t kStepRuleBits = (kOutermost >> 32) * 2 - 1;
constexpr uint64_t kStepReported = uint64_t{1} << 20;  // its return address is in the output
constexpr uint64_t kStepUsesRbp = uint64_t{1} << 21;   // the walk from here reads %rbp
constexpr uint64_t kStepEnd = uint64_t{1} << 22;  // not a frame: the 0 return address read last
static_assert(kStepRuleBits < kStepReported);

struct Step {
  uintptr_t ra;
  uintptr_t sp;
  uintptr_t rbp;
  uint64_t meta;
};

struct WalkMemory {
  uint32_t generation;  // of the rules it was made under; 0: none
  uint32_t count;       // steps[0] outermost .. steps[count - 1]
  uint32_t busy;        // a walk is using it (a signal handler's walk leaves it alone)
  uint32_t whole;       // steps[] holds the whole walk (not only its outer part)
  uint32_t window;      // walks in the current window (see kWindowWalks)
  uint32_t window_steps;     // steps they remembered
  uint32_t window_replayed;  // of which replayed
  uint32_t skip;        // walks still to go without the memory
  uint64_t serial;      // walks remembered by this thread so far
  Step steps[kRememberedSteps];
};

// Zero-initialised TLS: no constructor, nothing allocated.
__thread WalkMemory tls_walk __attribute__((tls_model("initial-exec")));

// Slot of step `i` (>= 0) in a ring of kRememberedSteps.
HS_ALWAYS_INLINE unsigned Ring(int i) {
  static_assert((kRememberedSteps & (kRememberedSteps - 1)) == 0);
  return static_cast<unsigned>(i) & (kRememberedSteps - 1);
}

HS_ALWAYS_INLINE uintptr_t LoadWord(uintptr_t addr) {
  return *reinterpret_cast<const uintptr_t*>(addr);
}

HS_ALWAYS_INLINE int64_t RbpOffset(uint64_t meta) {
  return static_cast<int16_t>(meta & kStepRbpOffsetMask);
}

// Whether the stack words the remembered walk read in step q (to go on
// to step q - 1) still hold what it read.
HS_ALWAYS_INLINE bool StepUnchanged(const WalkMemory& m, int q) {
  const Step& step = m.steps[q];
  const Step& next = m.steps[q - 1];
  bool same = LoadWord(next.sp - 8) == next.ra;
  // The %rbp this frame saved matters only if the walk from the next step
  // uses it (a frame built without frame pointers saves whatever the
  // register held).
  if ((step.meta & kStepRbpSaved) != 0 && (next.meta & kStepUsesRbp) != 0) {
    same &= LoadWord(next.sp + RbpOffset(step.meta)) == next.rbp;
  }
  return same;
}

// 0 if every stack word the remembered walk read from steps[at] out to the
// root still holds the same value, else the outermost step q whose words
// changed (no replay can start at q or inside it). Called only once this
// walk stands where the remembered one stood, same %rsp and return
// address: the words lie between there and the root of that same stack.
HS_ALWAYS_INLINE int TailChangedAt(const WalkMemory& m, int at) {
  int changed = 0;
  for (int q = at; q > 0; q--) {
    if (!StepUnchanged(m, q)) changed = q;
  }
  return changed;
}

// Remembering costs every walk something (each step is kept, then written
// back): a thread whose stacks share little from one to the next (less
// than a third of the steps replayed over kWindowWalks walks) walks
// without it for the next kSkipWalks walks, then tries again.
constexpr uint32_t kWindowWalks = 32;
constexpr uint32_t kSkipWalks = 512;

// Walks from the first frame outside our own code. Returns the number of
// return addresses written, or -1 (libunwind decides). kRemember: use and
// update the thread's remembered walk (never for cached-only walks, which
// run in signal handlers, possibly on top of a walk using it).
// No frame spans more than this: past it, the stack is not what the rules
// say.
constexpr uintptr_t kMaxFrameSpan = uintptr_t{1} << 28;

template <bool kCachedOnly, bool kRemember>
HS_ALWAYS_INLINE int Walk(uintptr_t* out, int max, bool* complete, WalkInfo* info,
                          uintptr_t skip_begin, uintptr_t skip_end, const uintptr_t* fp) {
  // Our own frames lie within this much above the walk's start, and no
  // frame spans more than kMaxFrameSpan: past either, the stack is not what
  // the rules say, and libunwind decides.
  constexpr uintptr_t kMaxStackSpan = uintptr_t{1} << 30;
  const uintptr_t sp0 = reinterpret_cast<uintptr_t>(fp);
  const uintptr_t skip_len = skip_end - skip_begin;
  // Our own frames are built with frame pointers: follow the %rbp chain to
  // the first return address outside [skip_begin, skip_end), then take the
  // caller's registers from the frame that returns there.
  uintptr_t ra = fp[1];
  while (ra - skip_begin < skip_len) {
    auto* next = reinterpret_cast<const uintptr_t*>(fp[0]);
    if (HS_UNLIKELY(next <= fp || reinterpret_cast<uintptr_t>(next) - sp0 > kMaxStackSpan)) {
      return -1;
    }
    fp = next;
    ra = fp[1];
  }
  uintptr_t sp = reinterpret_cast<uintptr_t>(fp + 2);
  uintptr_t rbp = fp[0];
  int n = 0;

  static_assert(!(kCachedOnly && kRemember));
  WalkMemory* memory = nullptr;
  uint32_t generation = 0;
  int cursor = -1;                    // the remembered step with the smallest %rsp not yet passed
  uintptr_t join_sp = ~uintptr_t{0};  // its %rsp: below it, nothing to compare
  int limit = kRememberedSteps;       // join only steps below this (the stack changed above)
  if constexpr (kRemember) {
    WalkMemory& m = tls_walk;
    if (m.busy == 0) {
      memory = &m;
      m.busy = 1;
      generation = g_generation.load(std::memory_order_acquire);
      if (m.count > 0 && m.generation == generation) {
        cursor = static_cast<int>(m.count) - 1;
        join_sp = m.steps[cursor].sp;
      }
    }
  }
  // This walk's steps, the last kRememberedSteps of them (a ring).
  Step fresh[kRemember ? kRememberedSteps : 1];
  StackHasher hash;  // of the frames reported (unused when kCachedOnly)
  // A walk that did not give up hands its hash over with its frames.
  auto done = [&](int frames) {
    if (!kCachedOnly && info != nullptr) {
      info->hashed = true;
      info->hash = hash;
    }
    return frames;
  };
  int steps = 0;
  int replayed_from = -1;  // the remembered step the walk joined, if any
  bool ended = false;

  while (ra != 0) {
    if constexpr (kRemember) {
      if (HS_UNLIKELY(sp >= join_sp)) {
        while (cursor >= 0 && memory->steps[cursor].sp < sp) cursor--;
        if (cursor < 0) {
          join_sp = ~uintptr_t{0};  // past the remembered walk
        } else {
          const Step& r = memory->steps[cursor];
          // (The end step's return address is 0: never this one.)
          if (r.sp == sp && r.ra == ra && (r.rbp == rbp || (r.meta & kStepUsesRbp) == 0) &&
              cursor < limit) {
            int changed = TailChangedAt(*memory, cursor);
            if (changed == 0) {
              replayed_from = cursor;
              break;
            }
            limit = changed;
          }
          join_sp = r.sp == sp ? r.sp + 1 : r.sp;
        }
      }
    }
    uint64_t rule;
    if constexpr (kCachedOnly) {
      rule = RuleCached(ra);
      if (rule == 0 || (rule & kUnhandled) != 0) {
        // Unknown here: report the frame, end the walk short.
        if (n < max) out[n++] = ra;
        return n;
      }
    } else {
      rule = RuleFor(ra);
    }
    if (HS_UNLIKELY((rule & kUnhandled) != 0)) {
      if (memory != nullptr) memory->busy = 0;
      return -1;
    }
    bool reported = !(ra - skip_begin < skip_len);  // else our thread-start trampoline
    if (reported) {
      if (n == max) {  // more frames than room
        if (memory != nullptr) memory->busy = 0;
        return done(n);
      }
      out[n++] = ra;
      if constexpr (!kCachedOnly) hash.Add(ra);
    }
    if constexpr (kRemember) {
      fresh[Ring(steps)] =
          Step{ra, sp, rbp, ((rule >> 32) & kStepRuleBits) | (reported ? kStepReported : 0)};
      steps++;
    }
    if ((rule & kOutermost) != 0) {
      ended = true;
      break;
    }
    uintptr_t cfa = ((rule & kCfaRbp) != 0 ? rbp : sp) +
                    static_cast<intptr_t>(static_cast<int32_t>(rule & 0xffffffff));
    // The CFA grows with every frame, by a bounded amount.
    if (HS_UNLIKELY(cfa - sp - 1 >= kMaxFrameSpan)) {
      if (memory != nullptr) memory->busy = 0;
      return -1;
    }
    if ((rule & kRbpSaved) != 0) {
      rbp = *reinterpret_cast<const uintptr_t*>(
          cfa + static_cast<intptr_t>(static_cast<int16_t>((rule >> 32) & 0xffff)));
    }
    ra = *reinterpret_cast<const uintptr_t*>(cfa - 8);
    sp = cfa;
  }
  *complete = true;
  if constexpr (!kRemember) {
    (void)ended;
    (void)replayed_from;
    return done(n);
  } else {
    if (memory == nullptr) return done(n);
    WalkMemory& m = *memory;
    // Where the walk's own steps go: above the replayed tail, or from the
    // root when it walked all the way.
    int base;
    if (replayed_from >= 0) {
      for (int q = replayed_from; q >= 0; q--) {
        const Step& r = m.steps[q];
        if ((r.meta & kStepReported) == 0) continue;
        if (n == max) {  // more frames than room
          *complete = false;
          m.busy = 0;
          return done(n);
        }
        out[n++] = r.ra;
        hash.Add(r.ra);
      }
      if (info != nullptr) {
        info->same_as_last =
            steps == 0 && m.whole != 0 && replayed_from + 1 == static_cast<int>(m.count);
      }
      base = replayed_from + 1;
    } else {
      if (!ended) {
        // The 0 return address that ended it was read at sp - 8.
        fresh[Ring(steps)] = Step{0, sp, rbp, kStepEnd};
        steps++;
      } else {
        fresh[Ring(steps - 1)].meta |= kStepOutermost;
      }
      base = 0;
    }
    // Write back, root first: step j of this walk (0 the leaf) is at
    // base + steps - 1 - j. Which steps use %rbp is worked out from the
    // root down.
    bool uses_rbp = base > 0 && (m.steps[base - 1].meta & kStepUsesRbp) != 0;
    int kept = steps < kRememberedSteps - base ? steps : kRememberedSteps - base;
    for (int q = 0; q < kept; q++) {
      Step st = fresh[Ring(steps - 1 - q)];
      uses_rbp = (st.meta & kStepCfaRbp) != 0 || ((st.meta & kStepRbpSaved) == 0 && uses_rbp);
      if ((st.meta & kStepEnd) != 0) uses_rbp = false;
      if (uses_rbp) st.meta |= kStepUsesRbp;
      m.steps[base + q] = st;
    }
    m.count = static_cast<uint32_t>(base + kept);
    m.whole = kept == steps ? 1 : 0;
    m.window_steps += m.count;
    m.window_replayed += static_cast<uint32_t>(base);
    if (++m.window == kWindowWalks) {
      if (m.window_steps > 3 * m.window_replayed) m.skip = kSkipWalks;
      m.window = m.window_steps = m.window_replayed = 0;
    }
    m.generation = generation;
    m.serial++;
    if (info != nullptr) info->serial = m.serial;
    m.busy = 0;
    return done(n);
  }
}

}  // namespace

void ForgetRememberedWalk() {
  tls_walk.count = 0;
  tls_walk.window = tls_walk.window_steps = tls_walk.window_replayed = 0;
  tls_walk.skip = 0;
}

HS_NOINLINE int CfiBacktrace(uintptr_t* out, int max, bool* complete, uintptr_t skip_begin,
                             uintptr_t skip_end, bool cached_only, WalkInfo* info) {
  *complete = false;
  if (info != nullptr) *info = WalkInfo{};
  if (HS_UNLIKELY(g_cache == nullptr)) return -1;
  // This function's own frame (it has one: it reads its frame address).
  auto* fp = static_cast<const uintptr_t*>(__builtin_frame_address(0));
  if (cached_only) {
    return Walk<true, false>(out, max, complete, nullptr, skip_begin, skip_end, fp);
  }
  if (HS_UNLIKELY(tls_walk.skip != 0)) {
    tls_walk.skip--;
    return Walk<false, false>(out, max, complete, info, skip_begin, skip_end, fp);
  }
  return Walk<false, true>(out, max, complete, info, skip_begin, skip_end, fp);
}

int CfiBacktraceFrom(uintptr_t pc, uintptr_t sp, ReadWordFn read, uintptr_t* out, int max,
                     bool* complete) {
  *complete = false;
  if (g_cache == nullptr || max <= 0) return 0;
  int n = 0;
  uintptr_t rbp = 0;
  bool rbp_known = false;
  // The first address is where the thread stopped (its rule is the one at
  // pc itself); the others are return addresses (the call is at ra - 1).
  uintptr_t ra = pc;
  bool leaf = true;
  while (ra != 0) {
    if (n == max) return n;
    uint64_t rule = RuleFor(leaf ? ra + 1 : ra);
    out[n++] = leaf ? ra + 1 : ra;
    if ((rule & kUnhandled) != 0) return n;
    if ((rule & kOutermost) != 0) {
      *complete = true;
      return n;
    }
    if ((rule & kCfaRbp) != 0 && !rbp_known) return n;
    uintptr_t cfa = ((rule & kCfaRbp) != 0 ? rbp : sp) +
                    static_cast<intptr_t>(static_cast<int32_t>(rule & 0xffffffff));
    if (cfa - sp - 1 >= kMaxFrameSpan) return n;
    if ((rule & kRbpSaved) != 0) {
      if (!read(cfa + static_cast<intptr_t>(static_cast<int16_t>((rule >> 32) & 0xffff)), &rbp)) {
        return n;
      }
      rbp_known = true;
    }
    if (!read(cfa - 8, &ra)) return n;
    sp = cfa;
    leaf = false;
  }
  *complete = true;
  return n;
}

}  // namespace heapscope::runtime
