// virtio.cpp: one virtqueue, one request in flight; data DMAed straight into kernel
// buffers in runs of up to 1 MiB, user addresses through a bounce buffer (disk.h).
#include "virtio.h"
#include "mm.h"
#include "pci.h"
#include "time.h"

namespace {
enum : u16 { DEV_FEATURES = 0x00, DRV_FEATURES = 0x04, Q_ADDR = 0x08, Q_SIZE = 0x0c, Q_SEL = 0x0e,
             Q_NOTIFY = 0x10, STATUS = 0x12, CONFIG = 0x14 };
enum : u8 { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FAILED = 128 };
constexpr u32 F_FLUSH = 1u << 9;
constexpr u16 D_NEXT = 1, D_WRITE = 2;
constexpr u32 T_IN = 0, T_OUT = 1, T_FLUSH = 4;
constexpr u32 BOUNCE_BYTES = 64 * 1024;
constexpr u32 MAX_SECTORS = 2048;      // 1 MiB per request

struct Desc { u64 addr; u32 len; u16 flags, next; };
struct Avail { u16 flags, idx, ring[]; };
struct UsedElem { u32 id, len; };
struct Used { u16 flags, idx; UsedElem ring[]; };
struct ReqHeader { u32 type, reserved; u64 sector; };

u16 io;
u16 qsize, last_used;
bool has_flush;
Desc* desc;
Avail* avail;
volatile Used* used;
ReqHeader* hdr;          // hdr and status share one DMA page
volatile u8* status;
DmaDisk disk;
bool offline;            // a request timed out: the queue can no longer be trusted
Spinlock lock;

// Submits the chain hdr -> [data] -> status and polls for completion (10 s at most).
int submit(u32 type, u64 lba, u32 bytes, u64 data_pa) {
  if (offline) return -5;
  hdr->type = type, hdr->reserved = 0, hdr->sector = lba;
  *status = 0xff;
  desc[0] = Desc{v2p(hdr), sizeof(ReqHeader), D_NEXT, 1};
  if (bytes) {
    desc[1] = Desc{data_pa, bytes, static_cast<u16>(D_NEXT | (type == T_IN ? D_WRITE : 0)), 2};
    desc[2] = Desc{v2p(const_cast<u8*>(status)), 1, D_WRITE, 0};
  } else {
    desc[0].next = 2;
    desc[2] = Desc{v2p(const_cast<u8*>(status)), 1, D_WRITE, 0};
  }
  avail->ring[avail->idx % qsize] = 0;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  avail->idx = static_cast<u16>(avail->idx + 1);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  outw(io + Q_NOTIFY, 0);
  for (Deadline d(10'000'000'000); used->idx == last_used;) {
    if (d.passed()) {
      kprintf("bfk: virtio-blk: request type %u at sector %lu got no answer; the disk is offline\n", type, lba);
      offline = true;
      return -5;
    }
    cpu_relax();
  }
  last_used++;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return *status == 0 ? 0 : -5;
}

int dma(bool write, u64 lba, u32 count, u64 pa) { return submit(write ? T_OUT : T_IN, lba, count * 512, pa); }

bool virtio_blk_init(char* where, usize cap) {
  PciDev d;
  if (!pci_find(0x1af4, 0x1001, &d)) {
    return false;   // the caller tries the next driver
  }
  pci_name(d, where, cap);
  u32 bar0 = pci_read32(d, 0x10);
  if ((bar0 & 1) && !(bar0 & ~3u)) {   // minimal firmware (qboot) leaves I/O BARs unassigned
    pci_write32(d, 0x10, 0xc000);
    bar0 = pci_read32(d, 0x10);
  }
  if (!(bar0 & 1)) {
    kprintf("bfk: virtio-blk BAR0 is not an I/O port BAR\n");
    return false;
  }
  io = static_cast<u16>(bar0 & ~3u);
  pci_write16(d, 0x04, static_cast<u16>(pci_read32(d, 0x04) | 0x5));   // I/O space + bus master
  outb(io + STATUS, 0);
  outb(io + STATUS, S_ACK | S_DRIVER);
  has_flush = inl(io + DEV_FEATURES) & F_FLUSH;
  outl(io + DRV_FEATURES, has_flush ? F_FLUSH : 0);
  outw(io + Q_SEL, 0);
  qsize = inw(io + Q_SIZE);
  if (!qsize) {
    outb(io + STATUS, S_FAILED);
    kprintf("bfk: virtio-blk has no queue 0\n");
    return false;
  }
  u64 avail_off = 16ul * qsize, used_off = align_up(avail_off + 6 + 2ul * qsize, PAGE);
  u64 bytes = used_off + align_up(6 + 8ul * qsize, PAGE);
  u64 q = frame_alloc_contig(static_cast<int>(bytes / PAGE));
  desc = static_cast<Desc*>(p2v(q));
  avail = static_cast<Avail*>(p2v(q + avail_off));
  used = static_cast<Used*>(p2v(q + used_off));
  outl(io + Q_ADDR, static_cast<u32>(q / PAGE));
  u64 page = frame_alloc();
  hdr = static_cast<ReqHeader*>(p2v(page));
  status = static_cast<u8*>(p2v(page)) + 64;
  auto bounce = static_cast<u8*>(p2v(frame_alloc_contig(BOUNCE_BYTES / PAGE)));
  disk = DmaDisk{dma, 9, MAX_SECTORS, 1, ~0ul, bounce, BOUNCE_BYTES, inl(io + CONFIG) | (u64(inl(io + CONFIG + 4)) << 32)};
  outb(io + STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
  return true;
}

u64 virtio_blk_sectors() { return disk.sectors; }

int virtio_blk_read(u64 lba, u32 count, void* buf) {
  LockGuard g(lock);
  return dma_disk_read(disk, lba, count, buf);
}

int virtio_blk_write(u64 lba, u32 count, const void* buf) {
  LockGuard g(lock);
  return dma_disk_write(disk, lba, count, buf);
}

int virtio_blk_flush() {
  if (!has_flush) return 0;
  LockGuard g(lock);
  return submit(T_FLUSH, 0, 0, 0);
}
}  // namespace

const DiskDriver virtio_blk_driver{"virtio-blk", virtio_blk_init, virtio_blk_sectors, virtio_blk_read,
                                   virtio_blk_write, virtio_blk_flush};
