// disk.h: what a disk driver gives the boot sequence (main.cpp probes the drivers in
// turn), and the transfer logic DMA drivers share: straight between the device and the
// caller's frames when the buffer allows it, else through a bounce buffer.
#pragma once
#include "rt.h"

struct DiskDriver {
  const char* name;                                   // "nvme", in the "bfk: disk:" line
  // Finds and starts the device. false when there is none, or (with a log line) when it
  // cannot be used. `where` gets its location, e.g. "0000:00:04.0".
  bool (*init)(char* where, usize cap);
  u64 (*sectors)();                                   // capacity in 512-byte sectors
  int (*read)(u64 lba, u32 count, void* buf);         // 512-byte sectors; 0 or -EIO
  int (*write)(u64 lba, u32 count, const void* buf);
  int (*flush)();
};

// A DMA disk as dma_disk_read/write see it. `dma` moves `blocks` device blocks at device
// block `block` to (write = false) or from physical memory at `pa`: contiguous, aligned to
// dma_align, below dma_limit, at most max_blocks long. It returns 0 or -EIO.
struct DmaDisk {
  int (*dma)(bool write, u64 block, u32 blocks, u64 pa);
  u32 block_shift;     // log2 of the device block size: 9 (512 B) or 12 (4 KiB)
  u32 max_blocks;      // per dma call
  u32 dma_align;       // buffer alignment the device needs (a power of two)
  u64 dma_limit;       // first physical address the device cannot reach (32-bit AHCI: 4 GiB)
  u8* bounce;          // physically contiguous, below dma_limit, bounce_bytes long:
  u32 bounce_bytes;    //   a multiple of the block size and at most max_blocks blocks
  u64 sectors;         // capacity in 512-byte sectors
};
// 512-byte sector transfers. Requests that cover whole device blocks into DMA-able memory
// (dma_address) go straight through in max_blocks pieces; others bounce, and writes of
// partial device blocks read them first. 0 or -EIO (also for ranges past the end).
int dma_disk_read(const DmaDisk& d, u64 lba, u32 count, void* buf);
int dma_disk_write(const DmaDisk& d, u64 lba, u32 count, const void* buf);
