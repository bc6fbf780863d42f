// CpuInfo from CPUID and XGETBV, decoded as the Intel SDM (vol. 2A, CPUID) and AMD
// APM (vol. 3, appendix E) document them.
#include "cpu/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace bf {
namespace {

constexpr IsaLevel kLevels[] = {IsaLevel::Sse2, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Vnni};

// XCR0 state components the OS must enable before their registers may be touched.
constexpr uint64_t kXcr0Avx = (1u << 1) | (1u << 2);                                // XMM, YMM upper halves
constexpr uint64_t kXcr0Avx512 = kXcr0Avx | (1u << 5) | (1u << 6) | (1u << 7);      // opmask, ZMM_Hi256, Hi16_ZMM
constexpr uint64_t kXcr0Amx = (uint64_t{1} << 17) | (uint64_t{1} << 18);            // XTILECFG, XTILEDATA

constexpr uint32_t kExtBase = 0x80000000u;

bool bit(uint32_t reg, int n) { return (reg >> n) & 1u; }
uint32_t field(uint32_t reg, int lo, int width) { return (reg >> lo) & ((1u << width) - 1u); }

// The 12-byte vendor string lives in EBX, EDX, ECX (in that order).
std::string vendor_of(const CpuidRegs& r) {
  char s[12];
  std::memcpy(s, &r.ebx, 4);
  std::memcpy(s + 4, &r.edx, 4);
  std::memcpy(s + 8, &r.ecx, 4);
  return std::string(s, strnlen(s, sizeof s));
}

bool is_amd_like(const std::string& vendor) { return vendor == "AuthenticAMD" || vendor == "HygonGenuine"; }

std::string brand_of(const CpuidFn& cpuid, uint32_t max_ext) {
  if (max_ext < kExtBase + 4) return {};
  char s[48];
  for (uint32_t i = 0; i < 3; ++i) {
    const CpuidRegs r = cpuid(kExtBase + 2 + i, 0);
    std::memcpy(s + 16 * i, &r.eax, 4);
    std::memcpy(s + 16 * i + 4, &r.ebx, 4);
    std::memcpy(s + 16 * i + 8, &r.ecx, 4);
    std::memcpy(s + 16 * i + 12, &r.edx, 4);
  }
  // Intel pads on the left, AMD with NULs on the right.
  std::string b(s, strnlen(s, sizeof s));
  const size_t first = b.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return b.substr(first, b.find_last_not_of(' ') - first + 1);
}

// Display family and model: the extended family is added only to base family 15, and the
// extended model prefixes the model for family 6 or 15 (Intel) or 15 (AMD, whose newer
// families are all 15 + extended).
void decode_signature(uint32_t eax, bool amd, CpuInfo& c) {
  const uint32_t base_family = field(eax, 8, 4), base_model = field(eax, 4, 4);
  c.stepping = static_cast<int>(field(eax, 0, 4));
  c.family = static_cast<int>(base_family == 15 ? base_family + field(eax, 20, 8) : base_family);
  const bool extended_model = base_family == 15 || (!amd && base_family == 6);
  c.model = static_cast<int>(extended_model ? (field(eax, 16, 4) << 4) + base_model : base_model);
}

// Logical processors in one package, or 1 when CPUID does not say.
uint32_t package_threads(const CpuidFn& cpuid, uint32_t max_leaf, uint32_t max_ext, bool amd) {
  if (amd) return max_ext >= kExtBase + 8 ? field(cpuid(kExtBase + 8, 0).ecx, 0, 8) + 1 : 1;
  // V2 extended topology (0x1F) or extended topology (0xB): the last level's count
  // covers the whole package.
  for (uint32_t leaf : {0x1Fu, 0xBu}) {
    if (max_leaf < leaf) continue;
    uint32_t n = 0;
    for (uint32_t sub = 0; sub < 8; ++sub) {
      const CpuidRegs r = cpuid(leaf, sub);
      if (field(r.ecx, 8, 8) == 0) break;  // level type 0: no more levels
      n = field(r.ebx, 0, 16);
    }
    if (n > 0) return n;
  }
  return 1;
}

// Deterministic cache parameters (Intel leaf 4, AMD 0x8000001D share the layout).
// Returns false when the leaf lists no cache at all (as some hypervisors answer).
bool decode_cache_leaf(const CpuidFn& cpuid, uint32_t leaf, uint32_t threads, CpuInfo& c) {
  bool any = false;
  for (uint32_t sub = 0; sub < 16; ++sub) {
    const CpuidRegs r = cpuid(leaf, sub);
    const uint32_t type = field(r.eax, 0, 5);  // 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    any = true;
    if (type == 2) continue;
    const uint64_t bytes = uint64_t{field(r.ebx, 22, 10) + 1} * (field(r.ebx, 12, 10) + 1) *
                           (field(r.ebx, 0, 12) + 1) * (uint64_t{r.ecx} + 1);
    const auto clamp = [](uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); };
    switch (field(r.eax, 5, 3)) {
      case 1: c.l1d_bytes = clamp(bytes); break;
      case 2: c.l2_bytes = clamp(bytes); break;
      case 3: {
        // One L3 serves `sharing` threads (a CCX on AMD); a package may hold several.
        const uint32_t sharing = field(r.eax, 14, 12) + 1;
        c.l3_bytes = clamp(bytes * std::max<uint32_t>(1, (threads + sharing - 1) / sharing));
        break;
      }
      default: break;
    }
  }
  return any;
}

// AMD's legacy leaves: L1d in KiB, L2 in KiB, L3 in 512 KiB units for the whole package.
void decode_amd_legacy_caches(const CpuidFn& cpuid, uint32_t max_ext, CpuInfo& c) {
  if (max_ext >= kExtBase + 5) c.l1d_bytes = field(cpuid(kExtBase + 5, 0).ecx, 24, 8) * 1024u;
  if (max_ext < kExtBase + 6) return;
  const CpuidRegs r = cpuid(kExtBase + 6, 0);
  c.l2_bytes = field(r.ecx, 16, 16) * 1024u;
  c.l3_bytes = field(r.edx, 18, 14) * 512u * 1024u;
}

void decode_caches(const CpuidFn& cpuid, uint32_t max_leaf, uint32_t max_ext, bool amd, CpuInfo& c) {
  const uint32_t threads = package_threads(cpuid, max_leaf, max_ext, amd);
  if (amd) {
    const bool topology_ext = max_ext >= kExtBase + 1 && bit(cpuid(kExtBase + 1, 0).ecx, 22);
    if (topology_ext && max_ext >= kExtBase + 0x1D && decode_cache_leaf(cpuid, kExtBase + 0x1D, threads, c)) return;
    decode_amd_legacy_caches(cpuid, max_ext, c);
    return;
  }
  if (max_leaf >= 4 && decode_cache_leaf(cpuid, 4, threads, c)) return;
  decode_amd_legacy_caches(cpuid, max_ext, c);  // VIA/Zhaoxin without leaf 4 use the same leaves
}

// Feature bits, each counted only when XCR0 enables the state it uses.
void decode_features(const CpuidFn& cpuid, uint32_t max_leaf, uint64_t xcr0, CpuInfo& c) {
  const CpuidRegs l1 = cpuid(1, 0);
  const bool avx_state = (xcr0 & kXcr0Avx) == kXcr0Avx && bit(l1.ecx, 28);  // AVX itself, too
  const bool avx512_state = avx_state && (xcr0 & kXcr0Avx512) == kXcr0Avx512;
  const bool amx_state = (xcr0 & kXcr0Amx) == kXcr0Amx;
  c.fma = avx_state && bit(l1.ecx, 12);
  c.f16c = avx_state && bit(l1.ecx, 29);
  if (max_leaf < 7) return;
  const CpuidRegs l7 = cpuid(7, 0);
  c.avx2 = avx_state && bit(l7.ebx, 5);
  c.avx512f = avx512_state && bit(l7.ebx, 16);
  c.avx512dq = avx512_state && bit(l7.ebx, 17);
  c.avx512bw = avx512_state && bit(l7.ebx, 30);
  c.avx512vl = avx512_state && bit(l7.ebx, 31);
  c.avx512vnni = avx512_state && bit(l7.ecx, 11);
  const bool amx_tile = amx_state && bit(l7.edx, 24);
  c.amx_bf16 = amx_tile && bit(l7.edx, 22);
  c.amx_int8 = amx_tile && bit(l7.edx, 25);
  if (l7.eax < 1) return;  // subleaf 1 absent
  const CpuidRegs l7s1 = cpuid(7, 1);
  c.avx_vnni = avx_state && bit(l7s1.eax, 4);
  c.avx512_bf16 = c.avx512f && bit(l7s1.eax, 5);
}

IsaLevel level_of(const CpuInfo& c) {
  if (!(c.avx2 && c.fma && c.f16c)) return IsaLevel::Sse2;
  if (!(c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq)) return IsaLevel::Avx2;
  return c.avx512vnni ? IsaLevel::Avx512Vnni : IsaLevel::Avx512;
}

#if defined(__x86_64__) || defined(__i386__)
CpuidRegs host_cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// Inline assembly rather than _xgetbv(), which would need a target("xsave") attribute.
uint64_t host_xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}
#else
CpuidRegs host_cpuid(uint32_t, uint32_t) { return {}; }
uint64_t host_xgetbv0() { return 0; }
#endif

}  // namespace

std::string_view isa_level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::Sse2: return "sse2";
    case IsaLevel::Avx2: return "avx2";
    case IsaLevel::Avx512: return "avx512";
    case IsaLevel::Avx512Vnni: return "avx512vnni";
  }
  return "?";
}

std::optional<IsaLevel> parse_isa_level(std::string_view name) {
  for (IsaLevel l : kLevels)
    if (isa_level_name(l) == name) return l;
  return std::nullopt;
}

CpuInfo CpuInfo::decode(const CpuidFn& cpuid, const std::function<uint64_t()>& xgetbv0) {
  CpuInfo c;
  const CpuidRegs l0 = cpuid(0, 0);
  const uint32_t max_leaf = l0.eax;
  c.vendor = vendor_of(l0);
  if (max_leaf < 1) return c;
  const bool amd = is_amd_like(c.vendor);
  const uint32_t max_ext = cpuid(kExtBase, 0).eax;
  const CpuidRegs l1 = cpuid(1, 0);
  decode_signature(l1.eax, amd, c);
  c.brand = brand_of(cpuid, max_ext);
  if (bit(l1.ecx, 27)) c.xcr0 = xgetbv0();  // OSXSAVE: the OS manages XCR0
  decode_features(cpuid, max_leaf, c.xcr0, c);
  decode_caches(cpuid, max_leaf, max_ext, amd, c);
  c.level = level_of(c);
  return c;
}

const CpuInfo& CpuInfo::host() {
  static const CpuInfo info = decode(host_cpuid, host_xgetbv0);
  return info;
}

CpuInfo CpuInfo::capped(IsaLevel cap) const {
  CpuInfo c = *this;
  if (cap < IsaLevel::Avx512Vnni) c.avx512vnni = c.amx_int8 = c.amx_bf16 = false;
  if (cap < IsaLevel::Avx512) c.avx512f = c.avx512bw = c.avx512vl = c.avx512dq = c.avx512_bf16 = false;
  if (cap < IsaLevel::Avx2) c.avx2 = c.fma = c.f16c = c.avx_vnni = false;
  c.level = std::min(c.level, cap);
  return c;
}

std::string CpuInfo::feature_list() const {
  const std::pair<bool, const char*> features[] = {
      {avx2, "avx2"},         {fma, "fma"},           {f16c, "f16c"},         {avx_vnni, "avx-vnni"},
      {avx512f, "avx512f"},   {avx512bw, "avx512bw"}, {avx512vl, "avx512vl"}, {avx512dq, "avx512dq"},
      {avx512vnni, "avx512vnni"}, {avx512_bf16, "avx512-bf16"}, {amx_int8, "amx-int8"}, {amx_bf16, "amx-bf16"},
  };
  std::string s = "sse2";  // every x86-64 CPU
  for (const auto& [on, name] : features)
    if (on) s += std::string(" ") + name;
  return s;
}

std::string CpuInfo::signature() const {
  std::string s = vendor + " " + std::to_string(family) + "." + std::to_string(model) + "." +
                  std::to_string(stepping) + " " + std::string(isa_level_name(level));
  // The features beside the levels that select kernels of their own.
  if (avx_vnni) s += "+avxvnni";
  if (avx512_bf16) s += "+bf16";
  if (amx_int8) s += "+amxint8";
  if (amx_bf16) s += "+amxbf16";
  char xcr[32];
  std::snprintf(xcr, sizeof xcr, " xcr0=0x%llx", static_cast<unsigned long long>(xcr0));
  return s + xcr;
}

}  // namespace bf
