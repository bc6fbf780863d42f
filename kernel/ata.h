// ata.h: ATA PIO on the primary IDE channel (ports 0x1f0/0x3f6), master drive, LBA48,
// polled. The fallback disk for PCs and QEMU's if=ide when there is no virtio-blk.
#pragma once
#include "rt.h"

bool ata_init();                     // false when there is no ATA disk (ATAPI is ignored)
u64 ata_sectors();
int ata_read(u64 lba, u32 count, void* buf);        // 0 or -EIO
int ata_write(u64 lba, u32 count, const void* buf);
int ata_flush();
