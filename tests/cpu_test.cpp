// CpuInfo: the running CPU against libgcc's independent reading of it (the one place
// __builtin_cpu_supports is allowed), and CPUs this machine is not (Intel with AMX, AMD
// Zen, AVX2-only, an OS without AVX-512 state) decoded from hand-made CPUID answers.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "cpu/cpu.h"

namespace bf {
namespace {

constexpr IsaLevel kAllLevels[] = {IsaLevel::Sse2, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Vnni};

// CPUID answers by (leaf, subleaf); anything not set answers zeros, as real CPUs do
// for leaves past the maximum.
class FakeCpu {
 public:
  FakeCpu(const char* vendor, uint32_t max_leaf, uint32_t max_ext, uint64_t xcr0) : xcr0_(xcr0) {
    CpuidRegs r{max_leaf, 0, 0, 0};
    std::memcpy(&r.ebx, vendor, 4);
    std::memcpy(&r.edx, vendor + 4, 4);
    std::memcpy(&r.ecx, vendor + 8, 4);
    regs_[{0, 0}] = r;
    regs_[{0x80000000u, 0}].eax = max_ext;
  }
  CpuidRegs& at(uint32_t leaf, uint32_t sub = 0) { return regs_[{leaf, sub}]; }
  void brand(const std::string& text) {
    std::string s = text;
    s.resize(48, '\0');
    for (uint32_t i = 0; i < 3; ++i) std::memcpy(&at(0x80000002u + i), s.data() + 16 * i, 16);
  }
  // A leaf-4 / 0x8000001D entry: type 1 data, 2 instruction, 3 unified.
  void cache(uint32_t leaf, uint32_t sub, uint32_t level, uint32_t type, uint32_t ways, uint32_t sets,
             uint32_t sharing) {
    at(leaf, sub) = {type | level << 5 | (sharing - 1) << 14, (ways - 1) << 22 | 63, sets - 1, 0};
  }
  CpuInfo decode() {
    xgetbv_calls = 0;
    return CpuInfo::decode([this](uint32_t l, uint32_t s) { return regs_.count({l, s}) ? regs_[{l, s}] : CpuidRegs{}; },
                           [this] {
                             ++xgetbv_calls;
                             return xcr0_;
                           });
  }
  int xgetbv_calls = 0;

 private:
  std::map<std::pair<uint32_t, uint32_t>, CpuidRegs> regs_;
  uint64_t xcr0_;
};

constexpr uint32_t b(int n) { return 1u << n; }

// Leaf 1 ECX: FMA 12, OSXSAVE 27, AVX 28, F16C 29.
constexpr uint32_t kLeaf1Avx = b(12) | b(27) | b(28) | b(29);
// Leaf 7 EBX: AVX2 5, AVX512F 16, DQ 17, BW 30, VL 31. ECX: VNNI 11.
constexpr uint32_t kLeaf7Avx512 = b(5) | b(16) | b(17) | b(30) | b(31);

// A Sapphire Rapids: family 6 model 0x8F, AVX-512 with VNNI and BF16, AVX-VNNI, AMX.
FakeCpu sapphire_rapids(uint64_t xcr0 = 0x602e7) {
  FakeCpu f("GenuineIntel", 0x1F, 0x80000008u, xcr0);
  f.at(1) = {0x000806F8, 0, kLeaf1Avx, 0};
  f.at(7) = {1, kLeaf7Avx512, b(11), b(22) | b(24) | b(25)};
  f.at(7, 1).eax = b(4) | b(5);
  f.brand("       Intel(R) Xeon(R) Platinum 8480+  ");
  f.cache(4, 0, 1, 1, 12, 64, 2);         // L1d 48 KiB
  f.cache(4, 1, 1, 2, 8, 64, 2);          // L1i, ignored
  f.cache(4, 2, 2, 3, 16, 2048, 2);       // L2 2 MiB
  f.cache(4, 3, 3, 3, 15, 114688, 128);   // L3 105 MiB, one per package
  f.at(0x1F, 0) = {1, 2, 1 << 8, 0};      // SMT level: 2 threads
  f.at(0x1F, 1) = {7, 112, 2 << 8 | 1, 0};  // core level: 112 threads in the package
  return f;
}

// This machine's Zen 5 (family 26 model 2 stepping 1), with the 0x8000001D cache leaf
// a bare-metal EPYC reports: 32 MiB L3 per 16-thread CCX, 192 threads per package.
FakeCpu zen5(bool cache_leaf = true) {
  FakeCpu f("AuthenticAMD", 0xD, 0x80000021u, 0xe7);
  f.at(1) = {0x00B00F21, 0, kLeaf1Avx, 0};
  f.at(7) = {1, kLeaf7Avx512, b(11), 0};
  f.at(7, 1).eax = b(4) | b(5);
  f.at(0x80000001u).ecx = b(22);  // TopologyExtensions
  f.brand("AMD EPYC 9655 96-Core Processor");
  // The legacy leaves as the VM this was written on answers them.
  f.at(0x80000005u) = {0xff60ff40, 0xff60ff40, 0x300c0140, 0x20080140};
  f.at(0x80000006u) = {0x40802040, 0x60804040, 0x04006140, 0x0fe09140};
  f.at(0x80000008u).ecx = 191;
  if (cache_leaf) {
    f.cache(0x8000001Du, 0, 1, 1, 12, 64, 2);
    f.cache(0x8000001Du, 1, 1, 2, 8, 64, 2);
    f.cache(0x8000001Du, 2, 2, 3, 16, 1024, 2);
    f.cache(0x8000001Du, 3, 3, 3, 16, 32768, 16);
  }
  return f;
}

// Haswell: AVX2, FMA, F16C, no AVX-512.
FakeCpu haswell() {
  FakeCpu f("GenuineIntel", 0xD, 0x80000008u, 0x7);
  f.at(1) = {0x000306C3, 0, kLeaf1Avx, 0};
  f.at(7) = {0, b(5), 0, 0};
  return f;
}

TEST(CpuLevels, NamesParseAndPrintBack) {
  const char* names[] = {"sse2", "avx2", "avx512", "avx512vnni"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(isa_level_name(kAllLevels[i]), names[i]);
    EXPECT_EQ(parse_isa_level(names[i]), kAllLevels[i]) << names[i];
  }
  for (const char* bad : {"", "AVX2", "avx", "avx512f", "avx512vnni ", "sse4"})
    EXPECT_FALSE(parse_isa_level(bad).has_value()) << "'" << bad << "'";
}

TEST(CpuLevels, AreOrdered) {
  for (int i = 0; i + 1 < 4; ++i) EXPECT_LT(kAllLevels[i], kAllLevels[i + 1]);
  CpuInfo c;
  c.level = IsaLevel::Avx512;
  EXPECT_TRUE(c.has(IsaLevel::Sse2));
  EXPECT_TRUE(c.has(IsaLevel::Avx2));
  EXPECT_TRUE(c.has(IsaLevel::Avx512));
  EXPECT_FALSE(c.has(IsaLevel::Avx512Vnni));
}

#if defined(__x86_64__) || defined(__i386__)
TEST(CpuHost, AgreesWithLibgcc) {
  const CpuInfo& c = CpuInfo::host();
  __builtin_cpu_init();
  const std::pair<bool, bool> checks[] = {
      {c.avx2, __builtin_cpu_supports("avx2") != 0},
      {c.fma, __builtin_cpu_supports("fma") != 0},
      {c.f16c, __builtin_cpu_supports("f16c") != 0},
      {c.avx512f, __builtin_cpu_supports("avx512f") != 0},
      {c.avx512bw, __builtin_cpu_supports("avx512bw") != 0},
      {c.avx512vl, __builtin_cpu_supports("avx512vl") != 0},
      {c.avx512dq, __builtin_cpu_supports("avx512dq") != 0},
      {c.avx512vnni, __builtin_cpu_supports("avx512vnni") != 0},
      {c.avx512_bf16, __builtin_cpu_supports("avx512bf16") != 0},
      {c.avx_vnni, __builtin_cpu_supports("avxvnni") != 0},
      {c.amx_int8, __builtin_cpu_supports("amx-int8") != 0},
      {c.amx_bf16, __builtin_cpu_supports("amx-bf16") != 0},
  };
  const char* names[] = {"avx2",     "fma",        "f16c",        "avx512f", "avx512bw", "avx512vl",
                         "avx512dq", "avx512vnni", "avx512bf16", "avxvnni", "amx-int8", "amx-bf16"};
  for (size_t i = 0; i < std::size(checks); ++i)
    EXPECT_EQ(checks[i].first, checks[i].second) << names[i] << " (CpuInfo vs __builtin_cpu_supports)";
  // The level follows from the features.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  const IsaLevel expected = !avx2     ? IsaLevel::Sse2
                            : !avx512 ? IsaLevel::Avx2
                            : __builtin_cpu_supports("avx512vnni") ? IsaLevel::Avx512Vnni
                                                                   : IsaLevel::Avx512;
  EXPECT_EQ(c.level, expected) << c.signature();
}

TEST(CpuHost, DescribesItself) {
  const CpuInfo& c = CpuInfo::host();
  EXPECT_EQ(c.vendor.size(), 12u) << c.vendor;
  EXPECT_FALSE(c.brand.empty());
  EXPECT_NE(c.brand.front(), ' ');
  EXPECT_NE(c.brand.back(), ' ');
  EXPECT_GE(c.family, 6);
  if (c.has(IsaLevel::Avx2)) {
    EXPECT_EQ(c.xcr0 & 0x6, 0x6u) << "AVX without YMM state";
  }
  EXPECT_EQ(&c, &CpuInfo::host()) << "host() is read once";
}
#endif

TEST(CpuHost, SignatureIsStable) {
  const CpuInfo& c = CpuInfo::host();
  EXPECT_EQ(c.signature(), CpuInfo::host().signature());
  EXPECT_EQ(c.signature(), CpuInfo::host().capped(c.level).signature());
  EXPECT_EQ(c.signature().find('\n'), std::string::npos);
}

TEST(CpuDecode, SapphireRapids) {
  FakeCpu f = sapphire_rapids();
  const CpuInfo c = f.decode();
  EXPECT_EQ(c.vendor, "GenuineIntel");
  EXPECT_EQ(c.brand, "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_EQ(c.family, 6);
  EXPECT_EQ(c.model, 0x8F);
  EXPECT_EQ(c.stepping, 8);
  EXPECT_EQ(c.xcr0, 0x602e7u);
  EXPECT_EQ(c.level, IsaLevel::Avx512Vnni);
  EXPECT_TRUE(c.avx_vnni && c.avx512_bf16 && c.amx_int8 && c.amx_bf16);
  EXPECT_EQ(c.l1d_bytes, 48u * 1024);
  EXPECT_EQ(c.l2_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(c.l3_bytes, 105u * 1024 * 1024);
  EXPECT_EQ(c.signature(), "GenuineIntel 6.143.8 avx512vnni+avxvnni+bf16+amxint8+amxbf16 xcr0=0x602e7");
  EXPECT_EQ(c.feature_list(),
            "sse2 avx2 fma f16c avx-vnni avx512f avx512bw avx512vl avx512dq avx512vnni avx512-bf16 amx-int8 amx-bf16");
}

TEST(CpuDecode, Zen5CachesPerCcxAddUpPerPackage) {
  FakeCpu f = zen5();
  const CpuInfo c = f.decode();
  EXPECT_EQ(c.vendor, "AuthenticAMD");
  EXPECT_EQ(c.brand, "AMD EPYC 9655 96-Core Processor");
  EXPECT_EQ(c.signature(), "AuthenticAMD 26.2.1 avx512vnni+avxvnni+bf16 xcr0=0xe7");
  EXPECT_FALSE(c.amx_int8 || c.amx_bf16);
  EXPECT_EQ(c.l1d_bytes, 48u * 1024);
  EXPECT_EQ(c.l2_bytes, 1024u * 1024);
  EXPECT_EQ(c.l3_bytes, 12u * 32 * 1024 * 1024);  // 192 threads / 16 per CCX
}

TEST(CpuDecode, AmdLegacyCacheLeavesWhenTheTopologyLeafIsEmpty) {
  FakeCpu f = zen5(false);
  const CpuInfo c = f.decode();
  EXPECT_EQ(c.l1d_bytes, 48u * 1024);      // 0x80000005 ECX[31:24] = 0x30 KiB
  EXPECT_EQ(c.l2_bytes, 1024u * 1024);     // 0x80000006 ECX[31:16] = 0x400 KiB
  EXPECT_EQ(c.l3_bytes, 1016u * 512 * 1024);  // 0x80000006 EDX[31:18] = 0x3F8 half-MiBs
}

TEST(CpuDecode, FamilyAndModelFoldExtendedFields) {
  struct Case {
    const char* vendor;
    uint32_t eax;
    int family, model, stepping;
  };
  const Case cases[] = {
      {"GenuineIntel", 0x000906EA, 6, 0x9E, 10},   // Coffee Lake: extended model for family 6
      {"GenuineIntel", 0x00000F29, 15, 2, 9},      // Pentium 4: family 15, extended family 0
      {"GenuineIntel", 0x00010662, 6, 0x16, 2},    // extended model applies to Intel family 6...
      {"AuthenticAMD", 0x00010662, 6, 6, 2},       // ...but not to AMD family 6
      {"AuthenticAMD", 0x00870F10, 23, 0x71, 0},   // Zen 2
      {"AuthenticAMD", 0x00A60F12, 25, 0x61, 2},   // Zen 4
      {"AuthenticAMD", 0x00100F42, 16, 4, 2},      // family 10h
  };
  for (const Case& k : cases) {
    FakeCpu f(k.vendor, 1, 0, 0);
    f.at(1).eax = k.eax;
    const CpuInfo c = f.decode();
    SCOPED_TRACE(std::string(k.vendor) + " eax " + std::to_string(k.eax));
    EXPECT_EQ(c.family, k.family);
    EXPECT_EQ(c.model, k.model);
    EXPECT_EQ(c.stepping, k.stepping);
  }
}

TEST(CpuDecode, FeaturesNeedTheirXcr0State) {
  // The OS saves no AVX-512 state: AVX-512 and AVX512-BF16 are unusable, AVX-VNNI is fine.
  CpuInfo c = sapphire_rapids(0x60007).decode();
  EXPECT_EQ(c.level, IsaLevel::Avx2);
  EXPECT_FALSE(c.avx512f || c.avx512bw || c.avx512vl || c.avx512dq || c.avx512vnni || c.avx512_bf16);
  EXPECT_TRUE(c.avx_vnni);
  EXPECT_TRUE(c.amx_int8) << "AMX needs tile state, not ZMM state";
  // No tile state: no AMX.
  c = sapphire_rapids(0xe7).decode();
  EXPECT_EQ(c.level, IsaLevel::Avx512Vnni);
  EXPECT_FALSE(c.amx_int8 || c.amx_bf16);
  // Only one of the two tile components: still no AMX.
  c = sapphire_rapids(0x200e7).decode();
  EXPECT_FALSE(c.amx_int8 || c.amx_bf16);
  // Opmask and ZMM_Hi256 but not Hi16_ZMM: no AVX-512.
  c = sapphire_rapids(0x67).decode();
  EXPECT_EQ(c.level, IsaLevel::Avx2);
  // Only XMM state: nothing beyond SSE.
  c = sapphire_rapids(0x3).decode();
  EXPECT_EQ(c.level, IsaLevel::Sse2);
  EXPECT_FALSE(c.avx2 || c.fma || c.f16c || c.avx_vnni);
}

TEST(CpuDecode, NoOsxsaveMeansNoXgetbvAndNoAvx) {
  FakeCpu f = sapphire_rapids();
  f.at(1).ecx &= ~b(27);
  const CpuInfo c = f.decode();
  EXPECT_EQ(f.xgetbv_calls, 0) << "XGETBV faults without OSXSAVE";
  EXPECT_EQ(c.xcr0, 0u);
  EXPECT_EQ(c.level, IsaLevel::Sse2);
  EXPECT_FALSE(c.avx2 || c.avx_vnni || c.amx_int8 || c.avx512_bf16);
}

TEST(CpuDecode, LevelsNeedEveryFeature) {
  FakeCpu f = haswell();
  EXPECT_EQ(f.decode().level, IsaLevel::Avx2);
  EXPECT_EQ(f.decode().signature(), "GenuineIntel 6.60.3 avx2 xcr0=0x7");
  f.at(1).ecx &= ~b(29);  // no F16C
  EXPECT_EQ(f.decode().level, IsaLevel::Sse2);
  f = haswell();
  f.at(1).ecx &= ~b(28);  // AVX itself missing: AVX2 and FMA do not count
  EXPECT_EQ(f.decode().level, IsaLevel::Sse2);
  EXPECT_FALSE(f.decode().fma);
  // AVX-512 without DQ (Knights Landing style) stays at avx2.
  FakeCpu g = sapphire_rapids();
  g.at(7).ebx &= ~b(17);
  EXPECT_EQ(g.decode().level, IsaLevel::Avx2);
  // Without VNNI: avx512.
  g = sapphire_rapids();
  g.at(7).ecx &= ~b(11);
  EXPECT_EQ(g.decode().level, IsaLevel::Avx512);
  // Leaf 7 subleaf 1 is read only when leaf 7 says it exists.
  g = sapphire_rapids();
  g.at(7).eax = 0;
  EXPECT_FALSE(g.decode().avx_vnni || g.decode().avx512_bf16);
}

TEST(CpuDecode, NonX86AnswersNothing) {
  FakeCpu f("\0\0\0\0\0\0\0\0\0\0\0\0", 0, 0, 0);
  const CpuInfo c = f.decode();
  EXPECT_EQ(c.level, IsaLevel::Sse2);
  EXPECT_EQ(c.l1d_bytes + c.l2_bytes + c.l3_bytes, 0u);
  EXPECT_TRUE(c.brand.empty());
}

TEST(CpuCapped, TurnsOffTheLevelsAboveAndTheirFeatures) {
  const CpuInfo full = sapphire_rapids().decode();
  const CpuInfo vnni = full.capped(IsaLevel::Avx512Vnni);
  EXPECT_EQ(vnni.signature(), full.signature());
  const CpuInfo a512 = full.capped(IsaLevel::Avx512);
  EXPECT_EQ(a512.level, IsaLevel::Avx512);
  EXPECT_FALSE(a512.avx512vnni || a512.amx_int8 || a512.amx_bf16);
  EXPECT_TRUE(a512.avx512f && a512.avx512bw && a512.avx512vl && a512.avx512dq && a512.avx512_bf16 && a512.avx_vnni);
  const CpuInfo a2 = full.capped(IsaLevel::Avx2);
  EXPECT_EQ(a2.level, IsaLevel::Avx2);
  EXPECT_FALSE(a2.avx512f || a2.avx512bw || a2.avx512vl || a2.avx512dq || a2.avx512vnni || a2.avx512_bf16 ||
               a2.amx_int8 || a2.amx_bf16);
  EXPECT_TRUE(a2.avx2 && a2.fma && a2.f16c && a2.avx_vnni);
  EXPECT_EQ(a2.signature(), "GenuineIntel 6.143.8 avx2+avxvnni xcr0=0x602e7");
  const CpuInfo s2 = full.capped(IsaLevel::Sse2);
  EXPECT_EQ(s2.level, IsaLevel::Sse2);
  EXPECT_FALSE(s2.avx2 || s2.fma || s2.f16c || s2.avx_vnni || s2.avx512f || s2.amx_int8);
  EXPECT_EQ(s2.feature_list(), "sse2");
  // Identity, caches and XCR0 stay: they describe the machine, not the choice.
  EXPECT_EQ(s2.brand, full.brand);
  EXPECT_EQ(s2.l3_bytes, full.l3_bytes);
  EXPECT_EQ(s2.xcr0, full.xcr0);
  // A cap above the level changes nothing, and capping twice is capping once.
  const CpuInfo hw = haswell().decode();
  EXPECT_EQ(hw.capped(IsaLevel::Avx512Vnni).signature(), hw.signature());
  EXPECT_EQ(full.capped(IsaLevel::Avx512).capped(IsaLevel::Avx2).signature(), a2.signature());
  for (IsaLevel l : kAllLevels) EXPECT_EQ(CpuInfo::host().capped(l).level, std::min(CpuInfo::host().level, l));
}

TEST(CpuSignature, DiffersWhereKernelsMayDiffer) {
  const std::string base = sapphire_rapids().decode().signature();
  EXPECT_NE(sapphire_rapids(0xe7).decode().signature(), base);  // no AMX state
  FakeCpu f = sapphire_rapids();
  f.at(1).eax = 0x000806F7;  // another stepping
  EXPECT_NE(f.decode().signature(), base);
  EXPECT_NE(zen5().decode().signature(), base);
  EXPECT_EQ(sapphire_rapids().decode().signature(), base);
}

}  // namespace
}  // namespace bf
