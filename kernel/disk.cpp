// disk.cpp: direct and bounced transfers for DMA disks (see disk.h).
#include "disk.h"
#include "mm.h"

namespace {
constexpr int EIO = -5;

// The buffer's physical address when the request can go straight to it, else 0.
u64 direct_address(const DmaDisk& d, u64 lba, u32 count, const void* buf) {
  u64 pa = dma_address(buf), spb = 1u << (d.block_shift - 9);
  if (!pa || pa & (d.dma_align - 1) || lba & (spb - 1) || count & (spb - 1)) return 0;
  if (pa + u64(count) * 512 > d.dma_limit) return 0;
  return pa;
}

int direct(const DmaDisk& d, bool write, u64 lba, u32 count, u64 pa) {
  u32 per_block = d.block_shift - 9;
  u64 block = lba >> per_block;
  for (u32 blocks = count >> per_block; blocks;) {
    u32 n = min(blocks, d.max_blocks);
    if (d.dma(write, block, n, pa) < 0) return EIO;
    block += n, blocks -= n, pa += u64(n) << d.block_shift;
  }
  return 0;
}

// Whole device blocks around [lba, lba + count) through the bounce buffer.
int bounced(const DmaDisk& d, bool write, u64 lba, u32 count, u8* buf) {
  u32 block_bytes = 1u << d.block_shift, spb = block_bytes / 512;
  u64 pa = v2p(d.bounce);
  while (count) {
    u64 block = lba / spb;
    u32 skip = static_cast<u32>(lba % spb) * 512;
    u32 bytes = static_cast<u32>(min(u64(count) * 512, u64(d.bounce_bytes - skip)));
    u32 blocks = (skip + bytes + block_bytes - 1) / block_bytes;
    bool partial = skip || (skip + bytes) % block_bytes;
    if ((!write || partial) && d.dma(false, block, blocks, pa) < 0) return EIO;
    if (write) {
      memcpy(d.bounce + skip, buf, bytes);
      if (d.dma(true, block, blocks, pa) < 0) return EIO;
    } else {
      memcpy(buf, d.bounce + skip, bytes);
    }
    buf += bytes, lba += bytes / 512, count -= bytes / 512;
  }
  return 0;
}

int transfer(const DmaDisk& d, bool write, u64 lba, u32 count, void* buf) {
  if (lba > d.sectors || count > d.sectors - lba) return EIO;
  if (u64 pa = direct_address(d, lba, count, buf)) return direct(d, write, lba, count, pa);
  return bounced(d, write, lba, count, static_cast<u8*>(buf));
}
}  // namespace

int dma_disk_read(const DmaDisk& d, u64 lba, u32 count, void* buf) { return transfer(d, false, lba, count, buf); }

int dma_disk_write(const DmaDisk& d, u64 lba, u32 count, const void* buf) {
  return transfer(d, true, lba, count, const_cast<void*>(buf));   // only read from when write is true
}
