// pci.cpp: configuration mechanism #1.
#include "pci.h"

namespace {
u32 addr(u8 bus, u8 dev, u8 fn, u8 off) {
  return 0x80000000u | u32(bus) << 16 | u32(dev) << 11 | u32(fn) << 8 | (off & 0xfc);
}

// Calls match(d, class_reg) for every function on `bus` and, through PCI-to-PCI bridges,
// the buses behind it, until it returns true. `seen` guards against misprogrammed bridges.
template <class Match>
bool scan_bus(u8 bus, Match& match, PciDev* out, u32 (&seen)[8]) {
  if (seen[bus / 32] & (1u << (bus % 32))) return false;
  seen[bus / 32] |= 1u << (bus % 32);
  for (u8 dev = 0; dev < 32; dev++)
    for (u8 fn = 0; fn < 8; fn++) {
      PciDev d{bus, dev, fn, 0, 0};
      u32 id = pci_read32(d, 0);
      if ((id & 0xffff) == 0xffff) {
        if (fn == 0) break;
        continue;
      }
      d.vendor = static_cast<u16>(id), d.device = static_cast<u16>(id >> 16);
      if (match(d, pci_read32(d, 0x08))) {
        *out = d;
        return true;
      }
      u8 header = static_cast<u8>(pci_read32(d, 0x0c) >> 16);
      if ((header & 0x7f) == 1) {   // a bridge: its secondary bus
        u8 secondary = static_cast<u8>(pci_read32(d, 0x18) >> 8);
        if (secondary && scan_bus(secondary, match, out, seen)) return true;
      }
      if (fn == 0 && !(header & 0x80)) break;   // single-function device
    }
  return false;
}

template <class Match>
bool pci_scan(Match match, PciDev* out) {
  u32 seen[8] = {};
  return scan_bus(0, match, out, seen);
}

// Where unassigned memory BARs go: above QEMU's low RAM (at most 2 GiB on q35, 3 GiB on
// i440fx with -m up to 3 GiB) and below its other fixed windows (q35 MMCONFIG at 0xb0000000
// is skipped by starting at 0xc0000000, the local APIC and IOAPIC sit at 0xfec00000+).
u64 next_bar = 0xc0000000;
}  // namespace

u32 pci_read32(const PciDev& d, u8 off) {
  outl(0xcf8, addr(d.bus, d.dev, d.fn, off));
  return inl(0xcfc);
}

void pci_write16(const PciDev& d, u8 off, u16 v) {
  outl(0xcf8, addr(d.bus, d.dev, d.fn, off));
  outw(static_cast<u16>(0xcfc + (off & 2)), v);
}

void pci_write32(const PciDev& d, u8 off, u32 v) {
  outl(0xcf8, addr(d.bus, d.dev, d.fn, off));
  outl(0xcfc, v);
}

bool pci_find(u16 vendor, u16 device, PciDev* out) {
  return pci_scan([&](const PciDev& d, u32) { return d.vendor == vendor && d.device == device; }, out);
}

bool pci_find_class(u8 cls, u8 subclass, u8 prog_if, PciDev* out) {
  u32 want = u32(cls) << 24 | u32(subclass) << 16 | u32(prog_if) << 8;
  return pci_scan([&](const PciDev&, u32 class_reg) { return (class_reg & 0xffffff00u) == want; }, out);
}

u64 pci_memory_bar(const PciDev& d, int bar) {
  u8 off = static_cast<u8>(0x10 + 4 * bar);
  u32 lo = pci_read32(d, off);
  if (lo & 1) return 0;                       // an I/O BAR
  bool is64 = ((lo >> 1) & 3) == 2;
  u64 base = (lo & ~0xfu) | (is64 ? u64(pci_read32(d, static_cast<u8>(off + 4))) << 32 : 0);
  if (base) return base;
  // Unassigned: size it (write all ones, read back the writable bits), then place it.
  pci_write32(d, off, ~0u);
  u32 mask = pci_read32(d, off) & ~0xfu;
  u64 size = mask ? u64(~mask) + 1 : 0;
  if (!size) return 0;
  base = align_up(next_bar, size);
  next_bar = base + size;
  pci_write32(d, off, static_cast<u32>(base));
  if (is64) pci_write32(d, static_cast<u8>(off + 4), 0);
  return base;
}

void pci_enable_mmio_dma(const PciDev& d) {
  pci_write16(d, 0x04, static_cast<u16>(pci_read32(d, 0x04) | 0x6));   // memory space + bus master
}

void pci_name(const PciDev& d, char* buf, usize cap) {
  ksnprintf(buf, cap, "0000:%02x:%02x.%x", d.bus, d.dev, d.fn);
}
