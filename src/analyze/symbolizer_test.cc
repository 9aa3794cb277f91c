#include "analyze/symbolizer.h"

#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "analyze/test_profile.h"
#include "analyze/top.h"

namespace heapscope::analyze {
namespace {

namespace fs = std::filesystem;

// Line numbers below refer to this source.
constexpr const char* kSource =
    "#include <cstdlib>\n"                                                     // 1
    "void* volatile g;\n"                                                      // 2
    "static inline __attribute__((always_inline)) void InnerAlloc(int n) {\n"  // 3
    "  g = malloc(n);\n"                                                       // 4
    "}\n"                                                                      // 5
    "namespace ns {\n"                                                         // 6
    "__attribute__((noinline)) void OuterCaller(int n) {\n"                    // 7
    "  InnerAlloc(n);\n"                                                       // 8
    "  InnerAlloc(n * 3);\n"                                                   // 9
    "}\n"                                                                      // 10
    "}  // namespace ns\n"                                                     // 11
    "int main(int argc, char**) { ns::OuterCaller(argc); return 0; }\n";       // 12

struct Symbol {
  uint64_t value = 0;
  uint64_t size = 0;
};

// The symbol `name` of the ELF file at `path`, from .symtab.
Symbol FindSymbol(const std::string& path, const std::string& name) {
  Symbol out;
  elf_version(EV_CURRENT);
  int fd = open(path.c_str(), O_RDONLY);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf, scn)) != nullptr;) {
    GElf_Shdr sh;
    gelf_getshdr(scn, &sh);
    if (sh.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym sym;
      gelf_getsym(data, static_cast<int>(i), &sym);
      if (name == elf_strptr(elf, sh.sh_link, sym.st_name)) out = {sym.st_value, sym.st_size};
    }
  }
  elf_end(elf);
  close(fd);
  return out;
}

// The executable PT_LOAD segment: vaddr, offset, size.
GElf_Phdr TextSegment(const std::string& path) {
  GElf_Phdr out = {};
  int fd = open(path.c_str(), O_RDONLY);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  size_t n = 0;
  elf_getphdrnum(elf, &n);
  for (size_t i = 0; i < n; i++) {
    GElf_Phdr ph;
    gelf_getphdr(elf, static_cast<int>(i), &ph);
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) out = ph;
  }
  elf_end(elf);
  close(fd);
  return out;
}

class SymbolizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new std::string(::testing::TempDir() + "/hs_symbolizer_test_" + std::to_string(getpid()));
    fs::create_directories(*dir_);
    std::ofstream(*dir_ + "/prog.cc") << kSource;
    std::string cmd =
        std::string(HS_TEST_CXX) + " -O2 -g -o " + *dir_ + "/prog " + *dir_ + "/prog.cc";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  // A profile of one sample per address (ELF virtual addresses of `binary`,
  // loaded at kBase), with the mapping naming `mapped_path`.
  format::Profile MakeProfile(const std::string& binary, const std::string& mapped_path,
                              const std::vector<uint64_t>& vaddrs, const std::string& build_id) {
    GElf_Phdr text = TextSegment(binary);
    testing::ProfileBuilder b({{"inuse_space", "bytes"}});
    uint32_t m = b.Mapping(mapped_path, kBase + text.p_vaddr, kBase + text.p_vaddr + text.p_memsz,
                           text.p_offset);
    format::Profile& p = b.profile();
    p.mappings[m].build_id = b.Str(build_id);
    for (uint64_t va : vaddrs) {
      // As the runtime writes them: a location without lines.
      format::Location loc;
      loc.id = p.locations.size() + 1;
      loc.mapping = m;
      loc.address = kBase + va;
      p.locations.push_back(loc);
      b.Sample({static_cast<uint32_t>(p.locations.size() - 1)}, {100});
    }
    return std::move(p);
  }

  SymbolizeOptions Options() {
    SymbolizeOptions o;
    o.cache_dir = *dir_ + "/cache-" + std::to_string(counter_++);
    o.debug_roots = {*dir_ + "/no-debug-root"};
    return o;
  }

  static constexpr uint64_t kBase = 0x555500000000;
  static std::string* dir_;
  static int counter_;
};

std::string* SymbolizerTest::dir_ = nullptr;
int SymbolizerTest::counter_ = 0;

std::string FunctionName(const format::Profile& p, const format::Line& l) {
  return std::string(p.String(p.FunctionOf(l).name));
}

TEST_F(SymbolizerTest, AddsFileLineAndInlineChains) {
  const std::string bin = *dir_ + "/prog";
  const std::string bid = ReadBuildId(bin);
  ASSERT_EQ(bid.size(), 40u);
  Symbol outer = FindSymbol(bin, "_ZN2ns11OuterCallerEi");
  ASSERT_NE(outer.value, 0u);
  std::vector<uint64_t> addrs;
  for (uint64_t k = 0; k < outer.size; k++) addrs.push_back(outer.value + k);
  format::Profile p = MakeProfile(bin, bin, addrs, bid);
  format::Result<SymbolizeStats> stats = Symbolize(p, Options());
  ASSERT_TRUE(stats.ok()) << stats.error();
  EXPECT_TRUE(stats->warnings.empty());
  EXPECT_EQ(stats->binaries_opened, 1u);
  EXPECT_EQ(stats->with_lines, addrs.size());
  // The entry is the function's own line; somewhere in it malloc's call
  // site is InnerAlloc's line 4 inlined at line 8 or 9.
  const format::Location& entry = p.locations[0];
  ASSERT_GE(entry.line_count, 1u);
  EXPECT_EQ(FunctionName(p, p.LinesOf(entry).back()), "ns::OuterCaller");
  EXPECT_EQ(p.String(p.FunctionOf(p.LinesOf(entry).back()).system_name), "_ZN2ns11OuterCallerEi");
  EXPECT_EQ(p.LinesOf(entry).back().line, 7);
  bool found_inline = false;
  for (const format::Location& loc : p.locations) {
    if (loc.line_count != 2) continue;
    std::span<const format::Line> lines = p.LinesOf(loc);
    // A static inline function has no linkage name in DWARF: its plain name.
    if (FunctionName(p, lines[0]) != "InnerAlloc") continue;
    found_inline = true;
    EXPECT_EQ(lines[0].line, 4);
    EXPECT_TRUE(lines[1].line == 8 || lines[1].line == 9) << lines[1].line;
    EXPECT_EQ(FunctionName(p, lines[1]), "ns::OuterCaller");
    EXPECT_TRUE(p.String(p.FunctionOf(lines[0]).filename).ends_with("/prog.cc"));
  }
  EXPECT_TRUE(found_inline);
  EXPECT_TRUE(p.mappings[0].has_line_numbers);
  EXPECT_TRUE(p.mappings[0].has_inline_frames);
}

TEST_F(SymbolizerTest, SecondRunComesFromTheCache) {
  const std::string bin = *dir_ + "/prog";
  const std::string bid = ReadBuildId(bin);
  Symbol outer = FindSymbol(bin, "_ZN2ns11OuterCallerEi");
  SymbolizeOptions o = Options();
  format::Profile first = MakeProfile(bin, bin, {outer.value, outer.value + 1}, bid);
  ASSERT_TRUE(Symbolize(first, o).ok());
  EXPECT_TRUE(fs::exists(o.cache_dir + "/" + bid + ".v4.sym"));
  // The binary is gone: the cache alone answers.
  const std::string moved = *dir_ + "/prog.moved";
  fs::copy_file(bin, moved, fs::copy_options::overwrite_existing);
  fs::remove(bin);
  format::Profile second = MakeProfile(moved, bin, {outer.value, outer.value + 1}, bid);
  format::Result<SymbolizeStats> stats = Symbolize(second, o);
  fs::rename(moved, bin);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->binaries_opened, 0u);
  EXPECT_EQ(stats->from_cache, 2u);
  EXPECT_TRUE(stats->warnings.empty());
  EXPECT_EQ(FunctionName(second, second.LinesOf(second.locations[0]).back()), "ns::OuterCaller");
  EXPECT_EQ(second.LinesOf(second.locations[0]).back().line, 7);
}

TEST_F(SymbolizerTest, FindsMovedBinariesWithSymbolsAndChecksBuildIds) {
  const std::string bin = *dir_ + "/prog";
  const std::string bid = ReadBuildId(bin);
  Symbol outer = FindSymbol(bin, "_ZN2ns11OuterCallerEi");
  const std::string elsewhere = *dir_ + "/syms/sub";
  fs::create_directories(elsewhere);
  fs::copy_file(bin, elsewhere + "/prog", fs::copy_options::overwrite_existing);

  // The profile names a path that does not exist.
  format::Profile p = MakeProfile(bin, "/gone/prog", {outer.value}, bid);
  SymbolizeOptions o = Options();
  format::Result<SymbolizeStats> missing = Symbolize(p, o);
  ASSERT_TRUE(missing.ok());
  ASSERT_EQ(missing->warnings.size(), 1u);
  EXPECT_EQ(missing->warnings[0],
            "/gone/prog: not found; give a directory holding it with --symbols DIR");
  EXPECT_EQ(p.locations[0].line_count, 0u);  // Still there, unnamed.

  o.symbol_dirs = {*dir_ + "/syms"};
  format::Result<SymbolizeStats> found = Symbolize(p, o);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->warnings.empty());
  ASSERT_EQ(p.locations[0].line_count, 1u);
  EXPECT_EQ(FunctionName(p, p.LinesOf(p.locations[0])[0]), "ns::OuterCaller");

  // A file at the mapped path with another build ID is not used.
  format::Profile q = MakeProfile(bin, bin, {outer.value}, std::string(40, 'a'));
  format::Result<SymbolizeStats> mismatch = Symbolize(q, Options());
  ASSERT_TRUE(mismatch.ok());
  ASSERT_EQ(mismatch->warnings.size(), 1u);
  EXPECT_NE(mismatch->warnings[0].find("build ID differs"), std::string::npos);
  EXPECT_EQ(q.locations[0].line_count, 0u);
}

TEST_F(SymbolizerTest, KeepsExistingNamesWhereDwarfHasNothing) {
  const std::string bin = *dir_ + "/prog";
  testing::ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t m = b.Mapping("/nonexistent/lib.so", 0x1000, 0x2000, 0);
  uint32_t loc = b.Loc({"named_by_runtime"}, m, 0x1234);
  b.Sample({loc}, {5});
  format::Profile& p = b.profile();
  format::Result<SymbolizeStats> stats = Symbolize(p, Options());
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(p.locations[0].line_count, 1u);
  EXPECT_EQ(FunctionName(p, p.LinesOf(p.locations[0])[0]), "named_by_runtime");
}

TEST_F(SymbolizerTest, LinesAsFunctionsGroupTopByLine) {
  const std::string bin = *dir_ + "/prog";
  Symbol outer = FindSymbol(bin, "_ZN2ns11OuterCallerEi");
  format::Profile p = MakeProfile(bin, bin, {outer.value}, ReadBuildId(bin));
  ASSERT_TRUE(Symbolize(p, Options()).ok());
  UseLinesAsFunctions(p);
  format::Result<TopReport> top = ComputeTop(p, {});
  ASSERT_TRUE(top.ok()) << top.error();
  ASSERT_EQ(top->rows.size(), 1u);
  EXPECT_TRUE(top->rows[0].name.starts_with("ns::OuterCaller /")) << top->rows[0].name;
  EXPECT_TRUE(top->rows[0].name.ends_with("/prog.cc:7")) << top->rows[0].name;
}

}  // namespace
}  // namespace heapscope::analyze
