// virtio.h: virtio-blk over PCI, legacy (transitional) I/O-port interface, polled.
#pragma once
#include "rt.h"

bool virtio_blk_init();                     // false (with a log line) when no disk is found
u64 virtio_blk_sectors();
int virtio_blk_read(u64 lba, u32 count, void* buf);          // 0 or -EIO
int virtio_blk_write(u64 lba, u32 count, const void* buf);
int virtio_blk_flush();
