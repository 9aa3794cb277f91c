#include "runtime/profile_writer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <new>
#include <utility>

#include "base/age_buckets.h"
#include "base/mmap_arena.h"
#include "format/profile_fields.h"
#include "platform/elf_symbols.h"
#include "platform/modules.h"
#include "runtime/cgroup_memory.h"
#include "runtime/memory_breakdown.h"
#include "runtime/own_deps.h"
#include "runtime/real_functions.h"
#include "runtime/recorder.h"
#include "runtime/runtime.h"
#include "runtime/symbol_cache.h"

namespace heapscope::runtime {

platform::ModuleTable& Modules();

namespace {

// drop_frames of heap profiles (matched, as pprof does, against the whole
// function name without its parameter list): operator new, the standard
// allocators' allocate(), and the libstdc++ container helpers that only
// allocate. pprof drops a matching frame with every frame beneath it, so
// nothing that constructs elements is here (_Hashtable_alloc::
// _M_allocate_node, _Rb_tree::_M_create_node, vector's insert paths): a
// constructor of the program's own that allocates, called from them, must
// stay the leaf.
// Template arguments are optional: a reader that names functions from
// their mangled form alone shows them without (pprof's default).
// C programs allocate through wrappers that only allocate (or copy what
// they were given): libc's string copies, libiberty's and git's x*
// (malloc or die), GLib's g_*, OpenSSL's CRYPTO_*; what they hold counts
// in their caller, which is what a leak report must name.
constexpr const char kAllocationPlumbing[] =
    "(__)?strn?dup|wcsdup|"
    "x(malloc|mallocz|calloc|realloc|zalloc|strdup|strndup|memdup|memdupz)(_gently)?|"
    "g_(try_)?(malloc0?|realloc)(_n)?|g_strn?dup|g_memdup2?|g_slice_alloc0?|"
    "CRYPTO_(malloc|zalloc|realloc|clear_realloc|strdup|strndup|memdup)|"
    "operator new|operator new\\[\\]|"
    "std::__new_allocator(<.*>)?::allocate|__gnu_cxx::new_allocator(<.*>)?::allocate|"
    "std::allocator(<.*>)?::allocate|std::allocator_traits(<.*>)?::allocate|"
    "std::_Vector_base(<.*>)?::_M_allocate|std::(__cxx11::)?basic_string(<.*>)?::_M_create|"
    "std::__detail::_Hashtable_alloc(<.*>)?::_M_allocate_buckets|"
    "std::_Rb_tree(<.*>)?::_M_get_node|std::_Deque_base(<.*>)?::_M_allocate_(node|map)";

namespace pb = format::pb;

// Open addressing map from a non-zero uint64 key to a uint32 value, in
// arena memory. It starts small and doubles when half full, up to room for
// the `max_items` its user can ask for at most: sized for that from the
// start, a profile's tables (the sum of all its stacks' depths, so a
// table of millions of slots for thousands of stacks) had every page of
// their random probes made resident: bench-mixed's final profile took
// ~1400 page faults, at ~15 us each on a virtual machine that handles
// them slowly. The tables a table outgrew stay in the arena (together
// less than the last).
class U64Map {
 public:
  bool Init(base::MmapArena* arena, size_t max_items) {
    arena_ = arena;
    size_t most = 16;
    while (most < max_items * 2) most *= 2;
    max_cap_ = most;
    count_ = 0;
    return Allocate(most < kInitialCap ? most : kInitialCap);
  }
  // The value for key, or UINT32_MAX if absent.
  uint32_t Find(uint64_t key) const {
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return vals_[i];
      if (keys_[i] == 0) return UINT32_MAX;
    }
  }
  // Returns the value for key, inserting `fresh` if absent (*inserted set).
  // With no room left (no memory to grow into), inserts nothing, returns 0
  // and sets failed().
  uint32_t FindOrInsert(uint64_t key, uint32_t fresh, bool* inserted) {
    *inserted = false;
    size_t i = Mix(key) & mask_;
    for (;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return vals_[i];
      if (keys_[i] == 0) break;
    }
    if (2 * (count_ + 1) > mask_ + 1) {
      if (mask_ + 1 < max_cap_ && Grow()) return FindOrInsert(key, fresh, inserted);
      if (count_ + 2 > mask_ + 1) {  // one slot stays empty, so that probes end
        failed_ = true;
        return 0;
      }
    }
    keys_[i] = key;
    vals_[i] = fresh;
    count_++;
    *inserted = true;
    return fresh;
  }
  bool failed() const { return failed_; }

 private:
  static constexpr size_t kInitialCap = 1024;
  static uint64_t Mix(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ULL;
    return k ^ (k >> 31);
  }
  bool Allocate(size_t cap) {
    auto* keys = static_cast<uint64_t*>(arena_->Alloc(cap * sizeof(uint64_t), 8));
    auto* vals = static_cast<uint32_t*>(arena_->Alloc(cap * sizeof(uint32_t), 4));
    if (keys == nullptr || vals == nullptr) return false;  // arena memory is zeroed
    keys_ = keys;
    vals_ = vals;
    mask_ = cap - 1;
    return true;
  }
  bool Grow() {
    uint64_t* old_keys = keys_;
    uint32_t* old_vals = vals_;
    size_t old_cap = mask_ + 1;
    if (!Allocate(2 * old_cap)) return false;
    for (size_t j = 0; j < old_cap; j++) {
      if (old_keys[j] == 0) continue;
      size_t i = Mix(old_keys[j]) & mask_;
      while (keys_[i] != 0) i = (i + 1) & mask_;
      keys_[i] = old_keys[j];
      vals_[i] = old_vals[j];
    }
    return true;
  }
  base::MmapArena* arena_ = nullptr;
  uint64_t* keys_ = nullptr;
  uint32_t* vals_ = nullptr;
  size_t mask_ = 0;
  size_t max_cap_ = 0;
  size_t count_ = 0;
  bool failed_ = false;
};

// profile.proto's string table: index 0 is "".
class StringTable {
 public:
  bool Init(base::MmapArena* arena, size_t max_strings) {
    max_ = max_strings + 1;
    strings_ = static_cast<const char**>(arena->Alloc(max_ * sizeof(char*), 8));
    if (strings_ == nullptr || !index_.Init(arena, max_)) return false;
    strings_[0] = "";
    count_ = 1;
    return true;
  }
  // Strings must outlive the table (arena or static storage).
  int64_t Intern(const char* s) {
    if (s == nullptr || *s == '\0') return 0;
    uint64_t h = 1469598103934665603ULL;
    for (const char* p = s; *p != '\0'; p++) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ULL;
    // Chain on hash collisions by probing h, h+1, ... until a match.
    for (uint64_t k = h | 1;; k += 2) {
      if (count_ >= max_) return 0;
      bool inserted;
      uint32_t idx = index_.FindOrInsert(k, static_cast<uint32_t>(count_), &inserted);
      if (index_.failed()) return 0;
      if (inserted) {
        strings_[count_++] = s;
        return idx;
      }
      if (strcmp(strings_[idx], s) == 0) return idx;
    }
  }
  void Write(format::StreamEncoder* enc) const {
    for (size_t i = 0; i < count_; i++) enc->String(pb::profile::kStringTable, strings_[i]);
  }
  bool failed() const { return index_.failed(); }

 private:
  U64Map index_;
  const char** strings_ = nullptr;
  size_t count_ = 0;
  size_t max_ = 0;
};

uint64_t NowNs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t Round(uint64_t fx) { return (fx + kWeightOne / 2) / kWeightOne; }
uint64_t Scaled(uint64_t fx, double scale) {
  return static_cast<uint64_t>(static_cast<double>(fx) * scale);
}

// One stack's four values (alloc_objects, alloc_space, inuse_objects,
// inuse_space) and its in-use bytes in fixed point. Returns false when the
// stack has nothing to show. In a delta profile the alloc values are the
// growth since the base; the in-use values are always the current ones.
bool StackValues(StackNode* n, const HeapProfileOptions& options, int64_t values[4],
                 uint64_t* inuse_fx, uint64_t* inuse_objects_fx = nullptr) {
  // Frees first: a free is counted only after its allocation, so
  // reading in this order never shows more freed than allocated.
  uint64_t fo = n->counters->free_objects.load(std::memory_order_acquire);
  uint64_t fb = n->counters->free_bytes.load(std::memory_order_acquire);
  uint64_t ao = n->counters->alloc_objects.load(std::memory_order_acquire);
  uint64_t ab = n->counters->alloc_bytes.load(std::memory_order_acquire);
  if (ao == 0) return false;
  *inuse_fx = ab > fb ? ab - fb : 0;
  uint64_t io = ao > fo ? ao - fo : 0;
  if (inuse_objects_fx != nullptr) *inuse_objects_fx = io;
  uint64_t dao = ao, dab = ab;
  if (options.alloc_base != nullptr) {
    if (n->id >= 1 && n->id <= options.alloc_base_count) {
      const AllocBase& b = options.alloc_base[n->id - 1];
      dao = ao > b.objects_fx ? ao - b.objects_fx : 0;
      dab = ab > b.bytes_fx ? ab - b.bytes_fx : 0;
    }
    if (Round(dao) == 0 && Round(io) == 0) return false;
  }
  values[0] = static_cast<int64_t>(Round(dao));
  values[1] = static_cast<int64_t>(Round(dab));
  values[2] = static_cast<int64_t>(Round(io));
  values[3] = static_cast<int64_t>(Round(*inuse_fx));
  return true;
}

// The live table's objects summed by (stack, age bucket), in the units of
// the stack counters, sorted by stack and then oldest first.
class AgeTable {
 public:
  struct Cell {
    uint32_t stack;
    uint32_t bucket;
    uint64_t objects_fx;
    uint64_t bytes_fx;
  };

  bool Collect(base::MmapArena* arena, size_t nstacks) {
    LiveTable& live = Live();
    // Room for every cell the live objects can fill (at most one per
    // object, and rarely more than a couple of dozen ages per stack) and
    // some growth while we read; past it, objects stay unlabelled (their
    // stack's remainder sample).
    size_t room = live.size() + 1024;
    if (room > nstacks * 24 + 1024) room = nstacks * 24 + 1024;
    if (room > kMaxCells) room = kMaxCells;
    if (!index_.Init(arena, room)) return false;
    cells_ = static_cast<Cell*>(arena->Alloc(room * sizeof(Cell), 8));
    if (cells_ == nullptr) return false;
    const double unit = BirthUnitSeconds();
    const uint32_t now = BirthNow();
    live.ForEach([&](const LiveEntry& e) {
      if (e.stack == 0) return;
      uint32_t units = now >= e.birth ? now - e.birth : 0;
      auto age = static_cast<uint64_t>(static_cast<double>(units) * unit);
      uint32_t bucket = static_cast<uint32_t>(base::AgeBucketOf(age));
      uint64_t key = uint64_t{e.stack} << 8 | bucket;  // stacks are >= 1: never 0
      // Once the cells are full, new keys are only looked up: their objects
      // stay unlabelled.
      bool inserted = false;
      uint32_t c = n_ < room ? index_.FindOrInsert(key, static_cast<uint32_t>(n_), &inserted)
                             : index_.Find(key);
      if (inserted) cells_[n_++] = Cell{e.stack, bucket, 0, 0};
      if (c == UINT32_MAX) return;
      uint64_t w = AgeSampleWeight(e.size);
      cells_[c].objects_fx += w;
      cells_[c].bytes_fx += e.size * w;
    });
    std::sort(cells_, cells_ + n_, [](const Cell& a, const Cell& b) {
      return a.stack != b.stack ? a.stack < b.stack : a.bucket > b.bucket;
    });
    return true;
  }

  // The cells of stack id, oldest first; call with increasing ids.
  std::pair<const Cell*, const Cell*> Next(uint32_t id) {
    while (pos_ < n_ && cells_[pos_].stack < id) pos_++;
    size_t begin = pos_;
    while (pos_ < n_ && cells_[pos_].stack == id) pos_++;
    return {cells_ + begin, cells_ + pos_};
  }

 private:
  static constexpr size_t kMaxCells = size_t{1} << 20;
  U64Map index_;
  Cell* cells_ = nullptr;
  size_t n_ = 0;
  size_t pos_ = 0;
};

// Location ids: one per distinct return address, plus one for the
// "[truncated]" marker.
constexpr uint64_t kTruncatedKey = 1;

class ProfileBuilder {
 public:
  ProfileBuilder(format::ByteSink* sink, SymbolCache* symbols) : enc_(sink), symbols_(symbols) {}

  bool Build(const HeapProfileOptions& options);
  // Any other profile of stacks (descriptors, threads, mappings).
  bool BuildStacks(const StackProfile& p);

 private:
  // Tables for up to max_locations locations and their strings.
  bool InitTables(size_t max_locations, size_t extra_strings);
  // Location ids of a stack into loc_ids (room for depth + 2); pseudo, if
  // given, becomes an outermost frame of that name. Returns their number.
  int StackLocations(const uintptr_t* frames, int depth, bool truncated, const char* pseudo,
                     uint64_t* loc_ids);
  // Functions, locations and mappings for every location handed out.
  bool WriteLocationsAndMappings();
  // A table ran out of memory to grow into: the profile is not whole.
  bool TablesFailed() const {
    return locations_.failed() || functions_.failed() || strings_.failed();
  }
  char* Format(const char* a, uint64_t v1, const char* b = nullptr, uint64_t v2 = 0,
               const char* c = nullptr, uint64_t v3 = 0, const char* d = nullptr, uint64_t v4 = 0,
               const char* e = nullptr, uint64_t v5 = 0);
  void Comment(const char* s) { comments_[ncomments_++] = strings_.Intern(s); }
  // A NUL-terminated copy in the builder's arena.
  char* Copy(const char* s, size_t n);

  format::StreamEncoder enc_;
  SymbolCache* symbols_;
  bool perf_map_read_ = false;

  // The JIT's name for pc (perf_map.h), the map read once per profile.
  const char* JitName(uintptr_t pc) {
    if (!perf_map_read_) {
      perf_map_read_ = true;
      char path[64];
      base::RawBuffer b(path, sizeof path);
      b.Str("/tmp/perf-").Uint(static_cast<uint64_t>(getpid())).Str(".map");
      symbols_->perf_map.Refresh(b.CStr());
    }
    return symbols_->perf_map.Find(pc);
  }
  base::MmapArena arena_{1 << 20};
  StringTable strings_;
  U64Map locations_;
  U64Map functions_;
  uintptr_t* location_addr_ = nullptr;  // by location id; 0: [truncated]
  const char** location_pseudo_ = nullptr;  // by location id: a pseudo frame's name
  size_t nlocations_ = 0;
  size_t nmodules_ = 0;  // modules known when the tables were sized
  int64_t comments_[12];
  int ncomments_ = 0;
};

char* ProfileBuilder::Format(const char* a, uint64_t v1, const char* b, uint64_t v2, const char* c,
                             uint64_t v3, const char* d, uint64_t v4, const char* e, uint64_t v5) {
  char tmp[512];
  base::RawBuffer buf(tmp, sizeof tmp);
  buf.Str(a).Uint(v1);
  if (b != nullptr) buf.Str(b).Uint(v2);
  if (c != nullptr) buf.Str(c).Uint(v3);
  if (d != nullptr) buf.Str(d).Uint(v4);
  if (e != nullptr) buf.Str(e).Uint(v5);
  char* out = static_cast<char*>(arena_.Alloc(buf.size() + 1, 1));
  if (out == nullptr) return const_cast<char*>("");
  memcpy(out, buf.data(), buf.size());
  out[buf.size()] = '\0';
  return out;
}

char* ProfileBuilder::Copy(const char* s, size_t n) {
  char* out = static_cast<char*>(arena_.Alloc(n + 1, 1));
  if (out == nullptr) return const_cast<char*>("");
  memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

bool ProfileBuilder::InitTables(size_t max_locations, size_t extra_strings) {
  nmodules_ = Modules().size();
  if (!locations_.Init(&arena_, max_locations) || !functions_.Init(&arena_, max_locations) ||
      !strings_.Init(&arena_, 2 * max_locations + 2 * nmodules_ + extra_strings)) {
    return false;
  }
  location_addr_ =
      static_cast<uintptr_t*>(arena_.Alloc((max_locations + 1) * sizeof(uintptr_t), 8));
  location_pseudo_ =
      static_cast<const char**>(arena_.Alloc((max_locations + 1) * sizeof(char*), 8));
  return location_addr_ != nullptr && location_pseudo_ != nullptr;
}

int ProfileBuilder::StackLocations(const uintptr_t* frames, int depth, bool truncated,
                                   const char* pseudo, uint64_t* loc_ids) {
  int n = 0;
  for (int i = 0; i < depth; i++) {
    bool inserted;
    uint64_t key = frames[i];
    if (key <= kTruncatedKey) key = kTruncatedKey + 1;
    uint32_t lid = locations_.FindOrInsert(key, static_cast<uint32_t>(nlocations_ + 1), &inserted);
    if (inserted) location_addr_[++nlocations_] = frames[i];
    loc_ids[n++] = lid;
  }
  if (truncated) {
    bool inserted;
    uint32_t lid =
        locations_.FindOrInsert(kTruncatedKey, static_cast<uint32_t>(nlocations_ + 1), &inserted);
    if (inserted) location_addr_[++nlocations_] = 0;
    loc_ids[n++] = lid;
  }
  if (pseudo != nullptr) {
    // Keyed by the name's address with the top bit set: never a code address.
    bool inserted;
    uint64_t key = reinterpret_cast<uintptr_t>(pseudo) | (uint64_t{1} << 63);
    uint32_t lid = locations_.FindOrInsert(key, static_cast<uint32_t>(nlocations_ + 1), &inserted);
    if (inserted) {
      location_addr_[++nlocations_] = 0;
      location_pseudo_[nlocations_] = pseudo;
    }
    loc_ids[n++] = lid;
  }
  return n;
}

bool ProfileBuilder::WriteLocationsAndMappings() {
  // Locations, with one Line naming the function from the ELF symbols.
  size_t nmodules = nmodules_;
  bool* module_has_functions = static_cast<bool*>(arena_.Alloc(nmodules + 1, 1));
  if (module_has_functions == nullptr) return false;
  size_t nfunctions = 0;
  uint8_t scratch[4096];
  format::MessageBuilder m(scratch, sizeof scratch);
  for (size_t lid = 1; lid <= nlocations_; lid++) {
    uintptr_t ret = location_addr_[lid];
    m.Clear();
    m.Varint(pb::location::kId, lid);
    const char* name = nullptr;
    const char* system_name = nullptr;
    uint64_t fkey = 0;
    if (location_pseudo_[lid] != nullptr) {
      name = system_name = location_pseudo_[lid];
      fkey = reinterpret_cast<uintptr_t>(location_pseudo_[lid]);
    } else if (ret == 0) {
      name = system_name = "[truncated]";
      fkey = 1;
    } else {
      // A return address points after the call; the call is one byte back.
      uintptr_t pc = ret - 1;
      m.Varint(pb::location::kAddress, pc);
      const platform::Module* mod = Modules().Find(pc);
      if (mod != nullptr) {
        size_t mi = static_cast<size_t>(mod - &Modules().at(0));
        m.Varint(pb::location::kMappingId, mi + 1);
        if (platform::ElfSymbols* syms = SymbolsFor(symbols_, mi)) {
          module_has_functions[mi] = true;
          if (platform::ElfSymbols::Symbol* s = syms->Find(pc - mod->load_bias)) {
            name = Demangled(symbols_, s);
            system_name = s->name;
            fkey = reinterpret_cast<uintptr_t>(s);  // unique per symbol
          }
        }
      } else if (const char* jit = JitName(pc)) {
        name = system_name = jit;
        fkey = reinterpret_cast<uintptr_t>(jit);  // unique per entry
      }
    }
    if (name != nullptr) {
      bool inserted;
      uint32_t fid = functions_.FindOrInsert(fkey, static_cast<uint32_t>(nfunctions + 1), &inserted);
      if (inserted) {
        nfunctions++;
        uint8_t fbuf[256];
        format::MessageBuilder fm(fbuf, sizeof fbuf);
        fm.Varint(pb::function::kId, fid);
        fm.Int64(pb::function::kName, strings_.Intern(name));
        fm.Int64(pb::function::kSystemName, strings_.Intern(system_name));
        enc_.Message(pb::profile::kFunction, fm);
      }
      uint8_t lbuf[32];
      format::MessageBuilder lm(lbuf, sizeof lbuf);
      lm.Varint(pb::line::kFunctionId, fid);
      m.Message(pb::location::kLine, lm);
    }
    enc_.Message(pb::profile::kLocation, m);
  }

  // Mappings: every executable segment seen, so any address can be
  // symbolized later from the file and build ID.
  for (size_t mi = 0; mi < nmodules; mi++) {
    const platform::Module& mod = Modules().at(mi);
    m.Clear();
    m.Varint(pb::mapping::kId, mi + 1);
    m.Varint(pb::mapping::kMemoryStart, mod.start);
    m.Varint(pb::mapping::kMemoryLimit, mod.limit);
    m.VarintNonZero(pb::mapping::kFileOffset, mod.file_offset);
    m.Int64(pb::mapping::kFilename, strings_.Intern(mod.path));
    m.Int64(pb::mapping::kBuildId, strings_.Intern(mod.build_id));
    m.Bool(pb::mapping::kHasFunctions, module_has_functions[mi]);
    enc_.Message(pb::profile::kMapping, m);
  }

  return true;
}

bool ProfileBuilder::Build(const HeapProfileOptions& options) {
  State& g = GlobalState();
  StackDepot& depot = Depot();
  Modules().Refresh();
  size_t nstacks = depot.size();
  size_t total_frames = 0;
  for (size_t id = 1; id <= nstacks; id++) {
    if (StackNode* n = depot.Get(static_cast<StackId>(id))) total_frames += n->depth;
  }
  if (!InitTables(total_frames + 2, 64)) return false;

  uint8_t scratch[4096];
  format::MessageBuilder m(scratch, sizeof scratch);
  // Sample types, as Go's heap profile has them.
  const char* types[4][2] = {{"alloc_objects", "count"},
                             {"alloc_space", "bytes"},
                             {"inuse_objects", "count"},
                             {"inuse_space", "bytes"}};
  for (auto& t : types) {
    m.Clear();
    m.Int64(pb::value_type::kType, strings_.Intern(t[0]));
    m.Int64(pb::value_type::kUnit, strings_.Intern(t[1]));
    enc_.Message(pb::profile::kSampleType, m);
  }

  // Samples. Each stack's in-use objects are split by age: one sample per
  // age bucket, with in-use values only and an "age" label (the bucket's
  // lower bound, in seconds); then one sample with the allocation values
  // and whatever in-use part the live table did not show (objects that
  // came or went while it was read). Every value still sums to the
  // stack's counters, so readers that ignore labels see what they saw
  // before.
  AgeTable ages;
  const bool have_ages = ages.Collect(&arena_, nstacks);
  const int64_t age_key = strings_.Intern("age");
  const int64_t age_unit = strings_.Intern("seconds");
  uint64_t inuse_total_fx = 0;
  uint64_t inuse_objects_total_fx = 0;
  uint64_t loc_ids[kMaxFrames + 2];
  uint8_t sample_buf[4096];
  format::MessageBuilder sm(sample_buf, sizeof sample_buf);
  uint8_t label_buf[64];
  format::MessageBuilder lm(label_buf, sizeof label_buf);
  for (size_t id = 1; id <= nstacks; id++) {
    StackNode* n = depot.Get(static_cast<StackId>(id));
    if (n == nullptr) continue;
    int64_t values[4];
    uint64_t inuse_fx, inuse_objects_fx;
    if (!StackValues(n, options, values, &inuse_fx, &inuse_objects_fx)) continue;
    inuse_total_fx += inuse_fx;
    inuse_objects_total_fx += inuse_objects_fx;
    int depth = StackLocations(n->frames, n->depth, n->truncated != 0, nullptr, loc_ids);
    if (have_ages) {
      auto [cell, end] = ages.Next(static_cast<uint32_t>(id));
      // With block headers the counts come from the headers (exact, or
      // the rate's estimates) and the ages from the live table (a sample of
      // them in every-allocation mode; at a low rate all of them but those
      // the table had no room for): the ages' shares of the stack, scaled
      // to its counts.
      double scale_o = 1, scale_b = 1;
      if (g_headers && cell != end) {
        uint64_t so = 0, sb = 0;
        for (const auto* c = cell; c != end; ++c) {
          so += c->objects_fx;
          sb += c->bytes_fx;
        }
        if (so != 0) scale_o = static_cast<double>(inuse_objects_fx) / static_cast<double>(so);
        if (sb != 0) scale_b = static_cast<double>(inuse_fx) / static_cast<double>(sb);
      }
      for (; cell != end && (inuse_fx != 0 || inuse_objects_fx != 0); ++cell) {
        uint64_t o = cell->objects_fx, b = cell->bytes_fx;
        if (g_headers) {
          // Whole objects and bytes, so that the parts add up to the exact
          // counts to the byte; the last part takes what rounding left.
          bool last = cell + 1 == end;
          o = last ? inuse_objects_fx : Round(Scaled(o, scale_o)) * kWeightOne;
          b = last ? inuse_fx : Round(Scaled(b, scale_b)) * kWeightOne;
        }
        if (o > inuse_objects_fx) o = inuse_objects_fx;
        if (b > inuse_fx) b = inuse_fx;
        int64_t aged[4] = {0, 0, static_cast<int64_t>(Round(o)), static_cast<int64_t>(Round(b))};
        if (aged[2] == 0 && aged[3] == 0) continue;
        inuse_objects_fx -= o;
        inuse_fx -= b;
        sm.Clear();
        sm.PackedVarints(pb::sample::kLocationId, loc_ids, static_cast<size_t>(depth));
        sm.PackedInt64s(pb::sample::kValue, aged, 4);
        lm.Clear();
        lm.Int64(pb::label::kKey, age_key);
        lm.Int64(pb::label::kNum, static_cast<int64_t>(base::AgeBucketLow(static_cast<int>(cell->bucket))));
        lm.Int64(pb::label::kNumUnit, age_unit);
        sm.Message(pb::sample::kLabel, lm);
        enc_.Message(pb::profile::kSample, sm);
      }
      values[2] = static_cast<int64_t>(Round(inuse_objects_fx));
      values[3] = static_cast<int64_t>(Round(inuse_fx));
      if (values[0] == 0 && values[1] == 0 && values[2] == 0 && values[3] == 0) continue;
    }
    sm.Clear();
    sm.PackedVarints(pb::sample::kLocationId, loc_ids, static_cast<size_t>(depth));
    sm.PackedInt64s(pb::sample::kValue, values, 4);
    enc_.Message(pb::profile::kSample, sm);
  }

  if (!WriteLocationsAndMappings()) return false;

  // Period, time, comments, default type.
  m.Clear();
  m.Int64(pb::value_type::kType, strings_.Intern("space"));
  m.Int64(pb::value_type::kUnit, strings_.Intern("bytes"));
  enc_.Message(pb::profile::kPeriodType, m);
  enc_.Int64(pb::profile::kPeriod, static_cast<int64_t>(g.config.rate < 1 ? 1 : g.config.rate));
  enc_.Int64(pb::profile::kTimeNanos, static_cast<int64_t>(NowNs(CLOCK_REALTIME)));
  enc_.Int64(pb::profile::kDurationNanos,
             static_cast<int64_t>(options.duration_ns != 0 ? options.duration_ns
                                                           : NowNs(CLOCK_MONOTONIC) - g.start_ns));
  uint64_t dropped = g.dropped_stacks.load() + g.dropped_live.load() + g.dropped_deferred.load();
  Comment(Format("heapscope: rate=", g.config.rate <= 1 ? 1 : g.config.rate,
                 g.config.rate <= 1 ? " mode=exact pid=" : " mode=sampled pid=",
                 static_cast<uint64_t>(g.pid)));
  Comment(Format("heapscope: samples=", SamplesRecorded(), " dropped_samples=", dropped,
                 " dropped_stacks=", g.dropped_stacks.load(),
                 " dropped_live=", g.dropped_live.load(), " record_ns=", RecordNs()));
  if (g.heap_shadowed) {
    // The program's malloc is another allocator's (runtime.cc): the heap
    // values are empty for that reason, not because nothing was allocated.
    char tmp[600];
    base::RawBuffer buf(tmp, sizeof tmp);
    buf.Str("heapscope: heap_not_seen=1 malloc_from=");
    const char* from = g.heap_shadowed_by != nullptr ? g.heap_shadowed_by : "?";
    for (const char* c = from; *c != '\0'; c++) buf.Char(*c == ' ' ? '_' : *c);
    Comment(Copy(buf.data(), buf.size()));
  }
  if (g.dropped_deferred.load() != 0) {
    // Signal handlers' allocations that found the deferred queue full.
    Comment(Format("heapscope: dropped_in_signal_handler=", g.dropped_deferred.load()));
  }
  if (g.objects_without_age.load() != 0) {
    // Counted, not dropped: blocks with headers keep their counts, but the
    // leak report cannot tell how old these objects are.
    Comment(Format("heapscope: objects_without_age=", g.objects_without_age.load()));
  }
  int64_t peak = g.peak_inuse_bytes_fx.load();
  uint64_t peak_fx = peak > 0 ? static_cast<uint64_t>(peak) : 0;
  if (peak_fx < inuse_total_fx) peak_fx = inuse_total_fx;
  Comment(Format("heapscope: inuse_space=", Round(inuse_total_fx), " peak_inuse_space=",
                 Round(peak_fx),
                 " stacks=", nstacks, " profiler_memory=", base::ProfilerMappedBytes()));
  // Where resident memory goes, so a series of snapshots carries it.
  {
    uint64_t age_ns;
    MemorySnapshot mem = ReadMemorySnapshotBudgeted(
        Round(inuse_total_fx), HeaderBytes(Round(inuse_objects_total_fx)), &age_ns);
    if (mem.ok) {
      char tmp[512];
      base::RawBuffer buf(tmp, sizeof tmp);
      buf.Str("heapscope: ");
      FormatRssComment(mem, &buf);
      FormatRssAge(age_ns, &buf);
      Comment(Copy(buf.data(), buf.size()));
    }
  }
  // The memory limit of the process's cgroup (0: none set), for the leak
  // report's time to it wherever the profile is read.
  {
    CgroupMemory cg = ProcessCgroupMemory();
    if (cg.version != 0) {
      Comment(Format("heapscope: memory_limit=", cg.limit, " cgroup_version=",
                     static_cast<uint64_t>(cg.version), " cgroup_usage=", cg.usage));
      // v2's throttling threshold, apart: Format takes three values.
      if (cg.high != 0) Comment(Format("heapscope: memory_high=", cg.high));
      if (cg.unreclaimable != 0) {
        Comment(Format("heapscope: cgroup_unreclaimable=", cg.unreclaimable));
      }
    }
    if (options.memory_pressure != 0) {
      Comment(Format("heapscope: memory_pressure=", options.memory_pressure));
    }
  }
  for (int i = 0; i < ncomments_; i++) enc_.Int64(pb::profile::kComment, comments_[i]);
  // C++'s allocation plumbing, as Go's heap profiles name runtime.malloc*:
  // pprof (and heapscope) drop these frames and those beneath, so that the
  // code that asked for the memory is the leaf once a symbolizer has
  // expanded inlined frames (std::__new_allocator<char>::allocate inlined
  // into every std::string growth would otherwise hold most of the flat
  // column), and in builds without optimisation, where they are calls.
  enc_.Int64(pb::profile::kDropFrames, strings_.Intern(kAllocationPlumbing));
  enc_.Int64(pb::profile::kDefaultSampleType,
             strings_.Intern(options.alloc_default ? "alloc_space" : "inuse_space"));
  strings_.Write(&enc_);
  return enc_.ok() && !TablesFailed();
}

bool ProfileBuilder::BuildStacks(const StackProfile& p) {
  State& g = GlobalState();
  Modules().Refresh();
  size_t total_frames = 0;
  for (size_t i = 0; i < p.nsamples; i++) total_frames += p.samples[i].depth + 2u;
  size_t labels = 0;
  for (size_t i = 0; i < p.nsamples; i++) labels += static_cast<size_t>(p.samples[i].nlabels);
  if (!InitTables(total_frames + 2, 2 * labels + 64)) return false;
  uint8_t scratch[4096];
  format::MessageBuilder m(scratch, sizeof scratch);
  for (int t = 0; t < p.ntypes; t++) {
    m.Clear();
    m.Int64(pb::value_type::kType, strings_.Intern(p.sample_types[t][0]));
    m.Int64(pb::value_type::kUnit, strings_.Intern(p.sample_types[t][1]));
    enc_.Message(pb::profile::kSampleType, m);
  }
  uint64_t loc_ids[kMaxFrames + 2];
  uint8_t sample_buf[4096];
  format::MessageBuilder sm(sample_buf, sizeof sample_buf);
  for (size_t i = 0; i < p.nsamples; i++) {
    const StackSample& s = p.samples[i];
    int depth = s.depth > kMaxFrames ? kMaxFrames : s.depth;
    int n = StackLocations(s.frames, depth, s.truncated, s.pseudo, loc_ids);
    sm.Clear();
    sm.PackedVarints(pb::sample::kLocationId, loc_ids, static_cast<size_t>(n));
    sm.PackedInt64s(pb::sample::kValue, s.values, static_cast<size_t>(p.ntypes));
    for (int l = 0; l < s.nlabels; l++) {
      uint8_t lbuf[64];
      format::MessageBuilder lm(lbuf, sizeof lbuf);
      lm.Int64(pb::label::kKey, strings_.Intern(s.labels[l].key));
      if (s.labels[l].str != nullptr) {
        lm.Int64(pb::label::kStr, strings_.Intern(s.labels[l].str));
      } else {
        lm.Int64(pb::label::kNum, s.labels[l].num);
      }
      sm.Message(pb::sample::kLabel, lm);
    }
    enc_.Message(pb::profile::kSample, sm);
  }
  if (!WriteLocationsAndMappings()) return false;
  m.Clear();
  m.Int64(pb::value_type::kType, strings_.Intern(p.period_type[0]));
  m.Int64(pb::value_type::kUnit, strings_.Intern(p.period_type[1]));
  enc_.Message(pb::profile::kPeriodType, m);
  enc_.Int64(pb::profile::kPeriod, p.period);
  enc_.Int64(pb::profile::kTimeNanos, static_cast<int64_t>(NowNs(CLOCK_REALTIME)));
  enc_.Int64(pb::profile::kDurationNanos,
             static_cast<int64_t>(p.duration_ns != 0 ? p.duration_ns
                                                     : NowNs(CLOCK_MONOTONIC) - g.start_ns));
  for (int c = 0; c < p.ncomments; c++) {
    enc_.Int64(pb::profile::kComment, strings_.Intern(p.comments[c]));
  }
  if (p.default_type != nullptr) {
    enc_.Int64(pb::profile::kDefaultSampleType, strings_.Intern(p.default_type));
  }
  strings_.Write(&enc_);
  return enc_.ok() && !TablesFailed();
}

// Writes into a file descriptor; keeps the errno of the first write that
// failed (the profile goes on being built, and what it reads meanwhile
// sets errno again).
class FdSink : public format::ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  bool Append(const void* data, size_t n) override {
    if (base::WriteAll(fd_, data, n)) return true;
    if (error_ == 0) error_ = errno;
    return false;
  }
  int error() const { return error_; }

 private:
  int fd_;
  int error_ = 0;
};

// Compresses into another sink; zlib's memory comes from an arena.
class GzipSink : public format::ByteSink {
 public:
  explicit GzipSink(format::ByteSink* out) : out_sink_(out) {
    zs_.zalloc = [](void* opaque, unsigned items, unsigned size) -> void* {
      return static_cast<base::MmapArena*>(opaque)->Alloc(size_t{items} * size, 16);
    };
    zs_.zfree = [](void*, void*) {};
    zs_.opaque = &arena_;
    // Level 1, as Go's runtime/pprof writes its profiles (gzip.BestSpeed):
    // a 226 kB profile of bench-mixed's in 2.8 ms instead of 8.3 ms at
    // level 6, 18% larger (78 kB against 66 kB); compression was the
    // largest part of a snapshot's cost.
    ok_ = Deps().deflate_init2(&zs_, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, static_cast<int>(sizeof zs_)) == Z_OK;
  }
  ~GzipSink() override {
    if (ok_ || started_) Deps().deflate_end(&zs_);
  }
  bool Append(const void* data, size_t n) override { return Pump(data, n, Z_NO_FLUSH); }
  bool Finish() { return Pump(nullptr, 0, Z_FINISH); }

 private:
  bool Pump(const void* data, size_t n, int flush) {
    if (!ok_) return false;
    started_ = true;
    zs_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    zs_.avail_in = static_cast<uInt>(n);
    for (;;) {
      zs_.next_out = out_;
      zs_.avail_out = sizeof out_;
      int r = Deps().deflate(&zs_, flush);
      if (r == Z_STREAM_ERROR) return ok_ = false;
      size_t have = sizeof out_ - zs_.avail_out;
      if (have > 0 && !out_sink_->Append(out_, have)) return ok_ = false;
      if (flush == Z_FINISH ? r == Z_STREAM_END : zs_.avail_in == 0 && zs_.avail_out != 0) break;
    }
    return true;
  }
  format::ByteSink* out_sink_;
  base::MmapArena arena_{512 * 1024};
  z_stream zs_{};
  bool ok_ = false;
  bool started_ = false;
  Bytef out_[64 * 1024];
};


}  // namespace

bool WriteHeapProfile(format::ByteSink* sink, const HeapProfileOptions& options) {
  FlushPendingCounts();
  SymbolCache* symbols = options.symbols != nullptr ? options.symbols : DefaultSymbols();
  ProfileBuilder b(sink, symbols);
  return b.Build(options);
}

bool WriteHeapProfileGz(format::ByteSink* out, const HeapProfileOptions& options) {
  // The sink's buffer is large; keep it off the (possibly small) stack.
  base::MmapArena arena(256 * 1024);
  void* mem = arena.Alloc(sizeof(GzipSink), alignof(GzipSink));
  if (mem == nullptr) return false;
  auto* sink = new (mem) GzipSink(out);
  bool ok = WriteHeapProfile(sink, options) && sink->Finish();
  sink->~GzipSink();
  return ok;
}

bool WriteHeapProfileGz(int fd, const HeapProfileOptions& options) {
  FdSink out(fd);
  if (WriteHeapProfileGz(&out, options)) return true;
  if (out.error() != 0) errno = out.error();
  return false;
}

bool WriteStackProfileGz(format::ByteSink* out, const StackProfile& p) {
  base::MmapArena arena(256 * 1024);
  void* mem = arena.Alloc(sizeof(GzipSink), alignof(GzipSink));
  if (mem == nullptr) return false;
  auto* sink = new (mem) GzipSink(out);
  bool ok;
  {
    ProfileBuilder b(sink, p.symbols != nullptr ? p.symbols : DefaultSymbols());
    ok = b.BuildStacks(p);
  }
  ok = ok && sink->Finish();
  sink->~GzipSink();
  return ok;
}

bool WriteStackProfileGz(int fd, const StackProfile& p) {
  FdSink out(fd);
  return WriteStackProfileGz(&out, p);
}

size_t CaptureAllocBase(base::MmapBuffer* out) {
  FlushPendingCounts();
  out->Clear();
  StackDepot& depot = Depot();
  size_t n = depot.size();
  if (n == 0 || !out->Reserve(n * sizeof(AllocBase))) return 0;
  for (size_t id = 1; id <= n; id++) {
    AllocBase b{0, 0};
    if (StackNode* node = depot.Get(static_cast<StackId>(id))) {
      b.objects_fx = node->counters->alloc_objects.load(std::memory_order_acquire);
      b.bytes_fx = node->counters->alloc_bytes.load(std::memory_order_acquire);
    }
    if (!out->Append(&b, sizeof b)) return 0;
  }
  return n;
}

bool WriteHeapProfileText(format::ByteSink* sink, const HeapProfileOptions& options) {
  FlushPendingCounts();
  State& g = GlobalState();
  SymbolCache* symbols = options.symbols != nullptr ? options.symbols : DefaultSymbols();
  StackDepot& depot = Depot();
  Modules().Refresh();
  size_t nstacks = depot.size();
  // Totals first, for the header line.
  int64_t total[4] = {0, 0, 0, 0};
  for (size_t id = 1; id <= nstacks; id++) {
    StackNode* n = depot.Get(static_cast<StackId>(id));
    int64_t v[4];
    uint64_t inuse_fx;
    if (n == nullptr || !StackValues(n, options, v, &inuse_fx)) continue;
    for (int i = 0; i < 4; i++) total[i] += v[i];
  }
  TextOut out(sink);
  // "@ heapprofile" (gperftools' form) rather than Go's "@ heap/RATE": the
  // values are already unbiased estimates, and pprof's legacy parser
  // rescales those marked heap/RATE a second time.
  out.Str("heap profile: ").Int(total[2]).Str(": ").Int(total[3]).Str(" [").Int(total[0]);
  out.Str(": ").Int(total[1]).Str("] @ heapprofile\n");
  for (size_t id = 1; id <= nstacks; id++) {
    StackNode* n = depot.Get(static_cast<StackId>(id));
    int64_t v[4];
    uint64_t inuse_fx;
    if (n == nullptr || !StackValues(n, options, v, &inuse_fx)) continue;
    out.Int(v[2]).Str(": ").Int(v[3]).Str(" [").Int(v[0]).Str(": ").Int(v[1]).Str("] @");
    for (int i = 0; i < n->depth; i++) out.Str(" ").Hex(n->frames[i]);
    out.Str("\n");
    for (int i = 0; i < n->depth; i++) {
      uintptr_t pc = n->frames[i] - 1;
      const platform::Module* mod;
      platform::ElfSymbols::Symbol* s = FindSymbol(symbols, pc, &mod);
      out.Str("#\t").Hex(pc).Str("\t");
      if (s != nullptr) {
        out.Str(Demangled(symbols, s)).Str("+").Hex(pc - mod->load_bias - s->addr);
      } else {
        out.Str("?");
      }
      out.Str("\t").Str(mod != nullptr ? mod->path : "?").Str("\n");
    }
    if (n->truncated) out.Str("#\t0x0\t[truncated]\t?\n");
    out.Str("\n");
  }
  HeapTotals t = ComputeHeapTotals();
  uint64_t dropped = g.dropped_stacks.load() + g.dropped_live.load() + g.dropped_deferred.load();
  out.Str("\n# heapscope\n");
  out.Str("# Rate = ").Uint(g.config.rate <= 1 ? 1 : g.config.rate).Str("\n");
  out.Str("# Pid = ").Uint(static_cast<uint64_t>(g.pid)).Str("\n");
  out.Str("# HeapInuse = ").Uint(t.inuse_bytes).Str("\n");
  out.Str("# HeapObjects = ").Uint(t.inuse_objects).Str("\n");
  out.Str("# PeakHeapInuse = ").Uint(t.peak_inuse_bytes).Str("\n");
  out.Str("# TotalAlloc = ").Uint(t.alloc_bytes).Str("\n");
  out.Str("# Mallocs = ").Uint(t.alloc_objects).Str("\n");
  out.Str("# Frees = ").Uint(t.free_objects).Str("\n");
  out.Str("# Samples = ").Uint(SamplesRecorded()).Str("\n");
  out.Str("# DroppedSamples = ").Uint(dropped).Str("\n");
  if (uint64_t n = g.objects_without_age.load(); n != 0) {
    out.Str("# ObjectsWithoutAge = ").Uint(n).Str("\n");
  }
  out.Str("# RecordNs = ").Uint(RecordNs()).Str("\n");
  out.Str("# Stacks = ").Uint(nstacks).Str("\n");
  out.Str("# ProfilerMemory = ").Uint(base::ProfilerMappedBytes()).Str("\n");
  if (options.duration_ns != 0) {
    out.Str("# DeltaSeconds = ").Uint(options.duration_ns / 1000000000ULL).Str("\n");
  }
  return out.ok();
}

HeapTotals ComputeHeapTotals() {
  FlushPendingCounts();
  HeapTotals t;
  State& g = GlobalState();
  StackDepot& depot = Depot();
  size_t n = depot.size();
  uint64_t ao = 0, ab = 0, fo = 0, fb = 0, io = 0, ib = 0;
  for (size_t id = 1; id <= n; id++) {
    StackNode* node = depot.Get(static_cast<StackId>(id));
    if (node == nullptr) continue;
    uint64_t f_o = node->counters->free_objects.load(std::memory_order_acquire);
    uint64_t f_b = node->counters->free_bytes.load(std::memory_order_acquire);
    uint64_t a_o = node->counters->alloc_objects.load(std::memory_order_acquire);
    uint64_t a_b = node->counters->alloc_bytes.load(std::memory_order_acquire);
    ao += a_o;
    ab += a_b;
    fo += f_o;
    fb += f_b;
    if (a_o > f_o) io += a_o - f_o;
    if (a_b > f_b) ib += a_b - f_b;
  }
  t.alloc_objects = Round(ao);
  t.alloc_bytes = Round(ab);
  t.free_objects = Round(fo);
  t.free_bytes = Round(fb);
  t.inuse_objects = Round(io);
  t.inuse_bytes = Round(ib);
  int64_t peak = g.peak_inuse_bytes_fx.load();
  uint64_t peak_fx = peak > 0 ? static_cast<uint64_t>(peak) : 0;
  if (peak_fx < ib) peak_fx = ib;
  t.peak_inuse_bytes = Round(peak_fx);
  t.stacks = n;
  return t;
}

}  // namespace heapscope::runtime
