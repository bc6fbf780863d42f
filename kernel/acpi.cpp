// acpi.cpp: RSDP (from the loader, else the BIOS area) -> RSDT/XSDT -> FADT -> DSDT \_S5.
#include "acpi.h"
#include "mm.h"

namespace {
u16 pm1a_cnt, pm1b_cnt;
u16 slp_typa, slp_typb;
u32 smi_cmd;
u8 acpi_enable_val;

template <class T> T rd(u64 pa) { T v; memcpy(&v, p2v(pa), sizeof v); return v; }

bool checksum_ok(u64 pa, u32 len) {
  u8 sum = 0;
  for (u32 i = 0; i < len; i++) sum = static_cast<u8>(sum + rd<u8>(pa + i));
  return sum == 0;
}

// The RSDP (36 bytes for ACPI 2.0+, 20 before): a copy, since a multiboot2 loader passes
// its own copy in memory that the kernel reuses.
u8 rsdp[36];
bool have_rsdp;

bool find_rsdp() {
  if (have_rsdp) return true;
  u64 ebda = u64(rd<u16>(0x40e)) << 4;
  u64 ranges[2][2] = {{ebda, ebda + 1024}, {0xe0000, 0x100000}};
  for (auto& r : ranges)
    for (u64 p = r[0]; p + 20 <= r[1]; p += 16)
      if (rd<u64>(p) == 0x2052545020445352ul && checksum_ok(p, 20)) {   // "RSD PTR "
        acpi_set_rsdp(p2v(p), rd<u8>(p + 15) >= 2 && p + 36 <= r[1] ? 36 : 20);
        return true;
      }
  return false;
}

template <class T> T rsdp_field(u32 off) { T v; memcpy(&v, rsdp + off, sizeof v); return v; }

u64 find_table(const char* sig) {
  bool x = rsdp[15] >= 2 && rsdp_field<u64>(24);
  u64 root = x ? rsdp_field<u64>(24) : rsdp_field<u32>(16);
  if (!root || root >= (4ul << 30)) return 0;
  u32 len = rd<u32>(root + 4), esz = x ? 8 : 4;
  for (u32 off = 36; off + esz <= len; off += esz) {
    u64 t = x ? rd<u64>(root + off) : rd<u32>(root + off);
    if (t && t < (4ul << 30) && !memcmp(p2v(t), sig, 4)) return t;
  }
  return 0;
}

// \_S5_ is "NameOp _S5_ PackageOp PkgLength NumElements [BytePrefix] SLP_TYPa [BytePrefix] SLP_TYPb".
bool parse_s5(u64 dsdt) {
  u32 len = rd<u32>(dsdt + 4);
  auto p = static_cast<const u8*>(p2v(dsdt));
  for (u32 i = 36; i + 12 < len; i++) {
    if (memcmp(p + i, "_S5_", 4) || p[i + 4] != 0x12) continue;
    if (p[i - 1] != 0x08 && !(p[i - 2] == 0x08 && p[i - 1] == '\\')) continue;
    const u8* q = p + i + 5;
    q += ((q[0] & 0xc0) >> 6) + 1;   // PkgLength
    q++;                              // NumElements
    if (*q == 0x0a) q++;
    slp_typa = *q++;
    if (*q == 0x0a) q++;
    slp_typb = *q;
    return true;
  }
  return false;
}
}  // namespace

void acpi_set_rsdp(const void* p, usize len) {
  memset(rsdp, 0, sizeof rsdp);   // a 20-byte ACPI 1.0 RSDP reads as revision 0 beyond its end
  memcpy(rsdp, p, min(len, sizeof rsdp));
  have_rsdp = len >= 20 && !memcmp(rsdp, "RSD PTR ", 8);
}

void acpi_init() {
  u64 fadt = find_rsdp() ? find_table("FACP") : 0;
  if (!fadt) return;
  u32 flen = rd<u32>(fadt + 4);
  u64 dsdt = flen >= 148 && rd<u64>(fadt + 140) ? rd<u64>(fadt + 140) : rd<u32>(fadt + 40);
  if (!dsdt || dsdt >= (4ul << 30) || !parse_s5(dsdt)) return;
  smi_cmd = rd<u32>(fadt + 48);
  acpi_enable_val = rd<u8>(fadt + 52);
  pm1a_cnt = static_cast<u16>(rd<u32>(fadt + 64));
  pm1b_cnt = static_cast<u16>(rd<u32>(fadt + 68));
}

// Called only when isa-debug-exit did not end the machine (PCs): scanning the BIOS area for
// the RSDP costs ~100k instructions, which is slow where ring 0 is interpreted (kvm-pvm).
void acpi_power_off() {
  acpi_init();
  if (!pm1a_cnt) return;
  if (!(inw(pm1a_cnt) & 1) && smi_cmd && acpi_enable_val) {   // SCI_EN clear: enable ACPI mode
    outb(static_cast<u16>(smi_cmd), acpi_enable_val);
    for (int i = 0; i < 1000000 && !(inw(pm1a_cnt) & 1); i++) cpu_relax();
  }
  outw(pm1a_cnt, static_cast<u16>(slp_typa << 10 | 1 << 13));
  if (pm1b_cnt) outw(pm1b_cnt, static_cast<u16>(slp_typb << 10 | 1 << 13));
}
