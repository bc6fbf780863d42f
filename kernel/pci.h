// pci.h: PCI configuration space through I/O ports 0xcf8/0xcfc: bus 0 and the buses behind
// its PCI-to-PCI bridges.
#pragma once
#include "rt.h"

struct PciDev { u8 bus, dev, fn; u16 vendor, device; };
u32 pci_read32(const PciDev& d, u8 off);
void pci_write16(const PciDev& d, u8 off, u16 v);
void pci_write32(const PciDev& d, u8 off, u32 v);
bool pci_find(u16 vendor, u16 device, PciDev* out);   // first match
// First function with this class, subclass and programming interface.
bool pci_find_class(u8 cls, u8 subclass, u8 prog_if, PciDev* out);
// Memory BAR `bar` (0..5; 64-bit BARs take two slots): its physical address, assigning one
// in the PCI hole when the firmware left it at 0 (qboot does). 0 when it is not a memory BAR.
u64 pci_memory_bar(const PciDev& d, int bar);
// Command register: memory space and bus mastering on (the device DMAs into RAM).
void pci_enable_mmio_dma(const PciDev& d);
// "0000:00:04.0" (domain 0 only: configuration mechanism #1 has no segments).
void pci_name(const PciDev& d, char* buf, usize cap);
