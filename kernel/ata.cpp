// ata.cpp: polled PIO transfers, one sector per DRQ block.
#include "ata.h"

namespace {
constexpr u16 IO = 0x1f0, CTRL = 0x3f6;
enum : u16 { DATA = 0, SECCOUNT = 2, LBA0 = 3, LBA1 = 4, LBA2 = 5, DRIVE = 6, CMD = 7, STATUS = 7 };
enum : u8 { BSY = 0x80, DRDY = 0x40, DF = 0x20, DRQ = 0x08, ERR = 0x01 };
u64 sectors;
Spinlock lock;

// Waits for BSY to clear (and for DRQ when want_drq); false on error or after ~1 s of polls.
bool wait_ready(bool want_drq) {
  for (u32 i = 0; i < 10000000; i++) {
    u8 s = inb(IO + STATUS);
    if (s & BSY) continue;
    if (s & (ERR | DF)) return false;
    if (!want_drq || (s & DRQ)) return true;
  }
  return false;
}

void select_lba48(u64 lba, u32 count) {
  outb(IO + DRIVE, 0x40);                              // master, LBA
  outb(IO + SECCOUNT, static_cast<u8>(count >> 8));
  outb(IO + LBA0, static_cast<u8>(lba >> 24));
  outb(IO + LBA1, static_cast<u8>(lba >> 32));
  outb(IO + LBA2, static_cast<u8>(lba >> 40));
  outb(IO + SECCOUNT, static_cast<u8>(count));
  outb(IO + LBA0, static_cast<u8>(lba));
  outb(IO + LBA1, static_cast<u8>(lba >> 8));
  outb(IO + LBA2, static_cast<u8>(lba >> 16));
}
bool ata_init(char* where, usize cap) {
  outb(CTRL, 0x02);                                    // nIEN: no interrupts
  outb(IO + DRIVE, 0xa0);
  if (inb(IO + STATUS) == 0xff) return false;          // floating bus: no controller
  outb(IO + SECCOUNT, 0); outb(IO + LBA0, 0); outb(IO + LBA1, 0); outb(IO + LBA2, 0);
  outb(IO + CMD, 0xec);                                // IDENTIFY DEVICE
  if (!inb(IO + STATUS)) return false;                 // no drive
  for (u32 i = 0; i < 10000000 && (inb(IO + STATUS) & BSY); i++) {}
  if (inb(IO + LBA1) || inb(IO + LBA2)) return false;  // ATAPI/SATA signature: not a disk
  if (!wait_ready(true)) return false;
  u16 id[256];
  for (u16& w : id) w = inw(IO + DATA);
  bool lba48 = id[83] & (1u << 10);
  sectors = lba48 ? (u64(id[100]) | u64(id[101]) << 16 | u64(id[102]) << 32 | u64(id[103]) << 48)
                  : (u64(id[60]) | u64(id[61]) << 16);
  ksnprintf(where, cap, "primary IDE channel (PIO)");
  return sectors != 0;
}

u64 ata_sectors() { return sectors; }

int ata_read(u64 lba, u32 count, void* buf) {
  LockGuard g(lock);
  auto w = static_cast<u16*>(buf);
  while (count) {
    u32 n = min(count, 256u);
    if (lba + n > sectors || !wait_ready(false)) return -5;
    select_lba48(lba, n);
    outb(IO + CMD, 0x24);                              // READ SECTORS EXT
    for (u32 s = 0; s < n; s++) {
      if (!wait_ready(true)) return -5;
      for (int i = 0; i < 256; i++) *w++ = inw(IO + DATA);
    }
    lba += n, count -= n;
  }
  return 0;
}

int ata_write(u64 lba, u32 count, const void* buf) {
  LockGuard g(lock);
  auto w = static_cast<const u16*>(buf);
  while (count) {
    u32 n = min(count, 256u);
    if (lba + n > sectors || !wait_ready(false)) return -5;
    select_lba48(lba, n);
    outb(IO + CMD, 0x34);                              // WRITE SECTORS EXT
    for (u32 s = 0; s < n; s++) {
      if (!wait_ready(true)) return -5;
      for (int i = 0; i < 256; i++) outw(IO + DATA, *w++);
    }
    if (!wait_ready(false)) return -5;
    lba += n, count -= n;
  }
  return 0;
}

int ata_flush() {
  LockGuard g(lock);
  outb(IO + DRIVE, 0x40);
  outb(IO + CMD, 0xea);                                // FLUSH CACHE EXT
  return wait_ready(false) ? 0 : -5;
}
}  // namespace

const DiskDriver ata_driver{"ata", ata_init, ata_sectors, ata_read, ata_write, ata_flush};
