// pci.h: PCI configuration space through I/O ports 0xcf8/0xcfc (bus 0 scan).
#pragma once
#include "rt.h"

struct PciDev { u8 bus, dev, fn; u16 vendor, device; };
u32 pci_read32(const PciDev& d, u8 off);
void pci_write16(const PciDev& d, u8 off, u16 v);
void pci_write32(const PciDev& d, u8 off, u32 v);
bool pci_find(u16 vendor, u16 device, PciDev* out);   // first match on buses 0..7
