// pci.cpp: configuration mechanism #1.
#include "pci.h"

namespace {
u32 addr(u8 bus, u8 dev, u8 fn, u8 off) {
  return 0x80000000u | u32(bus) << 16 | u32(dev) << 11 | u32(fn) << 8 | (off & 0xfc);
}
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
  for (u8 bus = 0; bus < 8; bus++)
    for (u8 dev = 0; dev < 32; dev++)
      for (u8 fn = 0; fn < 8; fn++) {
        PciDev d{bus, dev, fn, 0, 0};
        u32 id = pci_read32(d, 0);
        if ((id & 0xffff) == 0xffff) {
          if (fn == 0) break;
          continue;
        }
        if ((id & 0xffff) == vendor && (id >> 16) == device) {
          d.vendor = vendor, d.device = device;
          *out = d;
          return true;
        }
      }
  return false;
}
