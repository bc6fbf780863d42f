// ata.h: ATA PIO on the primary IDE channel (ports 0x1f0/0x3f6), master drive, LBA48,
// polled. The fallback disk for PCs and QEMU's if=ide when there is no virtio-blk.
#pragma once
#include "disk.h"

extern const DiskDriver ata_driver;   // absent when there is no ATA disk (ATAPI is ignored)
