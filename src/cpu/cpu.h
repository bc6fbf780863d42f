// What this CPU can run: one description read from CPUID and XGETBV.
//
// Every feature check in the engine goes through CpuInfo. A feature counts only when
// the CPU reports it *and* the OS enabled its register state in XCR0 (YMM for AVX,
// opmask/ZMM for AVX-512, tile state for AMX), so a kernel chosen from it never faults.
// The ISA levels are ordered: a kernel for level L runs on every CPU at level >= L.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace bf {

// sse2: baseline x86-64. avx2: AVX2+FMA+F16C. avx512: F+BW+VL+DQ. avx512vnni: avx512 + VNNI.
enum class IsaLevel : uint8_t { Sse2 = 0, Avx2 = 1, Avx512 = 2, Avx512Vnni = 3 };

std::string_view isa_level_name(IsaLevel level);              // "sse2", "avx2", "avx512", "avx512vnni"
std::optional<IsaLevel> parse_isa_level(std::string_view name);  // nullopt for an unknown name

// What one CPUID query returns.
struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
// CPUID(leaf, subleaf). A fake one lets tests decode CPUs they do not run on.
using CpuidFn = std::function<CpuidRegs(uint32_t leaf, uint32_t subleaf)>;

struct CpuInfo {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  std::string brand;   // CPUID 0x80000002..4, trimmed
  int family = 0, model = 0, stepping = 0;  // display family/model (extended fields folded in)
  uint64_t xcr0 = 0;                        // 0 when the OS has not enabled XSAVE

  // Cache sizes in bytes (0 when unknown), per core for L1d/L2, per package for L3.
  uint32_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;

  IsaLevel level = IsaLevel::Sse2;  // the highest level whose every feature is usable
  // Features beside the levels (each already checked against XCR0).
  bool avx_vnni = false;     // VEX-encoded vpdpbusd on ymm (Alder Lake, Zen 5...)
  bool avx512_bf16 = false;
  // Tile state enabled (XCR0 bits 17, 18). Linux still wants each process to ask for it
  // (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) before its first tile instruction.
  bool amx_int8 = false, amx_bf16 = false;
  bool f16c = false, fma = false, avx2 = false, avx512f = false, avx512bw = false, avx512vl = false,
       avx512dq = false, avx512vnni = false;

  // The running CPU (read once, then cached).
  static const CpuInfo& host();

  // Decodes a CPU from its CPUID answers. `xgetbv0` (XCR0) is called only when CPUID
  // reports OSXSAVE, as XGETBV faults otherwise. host() is decode() of the real ones.
  static CpuInfo decode(const CpuidFn& cpuid, const std::function<uint64_t()>& xgetbv0);

  // The usable features as names ("avx2 fma f16c avx512f ..."), in a fixed order.
  std::string feature_list() const;

  // This description with every level above `cap` and the features that belong to
  // them switched off: what kernel selection sees under --max-isa. AMX goes with
  // avx512vnni (every AMX CPU has it), AVX512-BF16 with avx512, AVX-VNNI with avx2.
  CpuInfo capped(IsaLevel cap) const;

  bool has(IsaLevel l) const { return level >= l; }

  // A stable one-line key for this CPU: vendor, family/model/stepping, level, extra
  // features and XCR0. Two machines that may run different kernels never share it.
  std::string signature() const;
};

}  // namespace bf
