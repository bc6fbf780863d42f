// Placeholder until CpuInfo reads CPUID itself (being written): libgcc's view.
#include "cpu/cpu.h"

namespace bf {

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
  for (IsaLevel l : {IsaLevel::Sse2, IsaLevel::Avx2, IsaLevel::Avx512, IsaLevel::Avx512Vnni})
    if (isa_level_name(l) == name) return l;
  return std::nullopt;
}

const CpuInfo& CpuInfo::host() {
  static const CpuInfo info = [] {
    CpuInfo c;
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = c.avx2;
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512dq = __builtin_cpu_supports("avx512dq");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
    if (c.avx2 && c.fma) c.level = IsaLevel::Avx2;
    if (c.level == IsaLevel::Avx2 && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq) c.level = IsaLevel::Avx512;
    if (c.level == IsaLevel::Avx512 && c.avx512vnni) c.level = IsaLevel::Avx512Vnni;
    return c;
  }();
  return info;
}

CpuInfo CpuInfo::capped(IsaLevel cap) const {
  CpuInfo c = *this;
  if (c.level > cap) c.level = cap;
  return c;
}

std::string CpuInfo::signature() const { return vendor + " " + std::string(isa_level_name(level)); }

}  // namespace bf
