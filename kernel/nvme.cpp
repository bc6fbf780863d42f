// nvme.cpp: one command in flight; completions polled with a deadline. A command that
// times out takes the controller offline (every later request gets -EIO): its queues can
// no longer be trusted.
#include "nvme.h"
#include "mm.h"
#include "pci.h"
#include "time.h"

namespace {
// Controller registers (NVMe base specification, "Controller Registers").
enum : u32 { CAP = 0x00, CC = 0x14, CSTS = 0x1c, AQA = 0x24, ASQ = 0x28, ACQ = 0x30, DOORBELLS = 0x1000 };
constexpr u32 CC_EN = 1, CC_IOSQES = 6 << 16, CC_IOCQES = 4 << 20;   // 64-byte SQ, 16-byte CQ entries
constexpr u32 CSTS_RDY = 1, CSTS_CFS = 2;
enum : u8 { ADMIN_CREATE_SQ = 0x01, ADMIN_CREATE_CQ = 0x05, ADMIN_IDENTIFY = 0x06 };
enum : u8 { IO_FLUSH = 0x00, IO_WRITE = 0x01, IO_READ = 0x02 };
constexpr u16 QSIZE = 64;                        // entries per queue
constexpr u32 MAX_TRANSFER = 1u << 20;           // bytes per command: 256 pages, one PRP list page
constexpr u32 BOUNCE_BYTES = 64 * 1024;
constexpr u64 COMMAND_TIMEOUT_NS = 10'000'000'000;
constexpr int EIO = -5;

struct Sqe {
  u32 cdw0, nsid, rsvd[2];
  u64 mptr, prp1, prp2;
  u32 cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
static_assert(sizeof(Sqe) == 64);
struct Cqe { u32 result, rsvd; u16 sq_head, sq_id, cid, status; };   // status bit 0: phase tag
static_assert(sizeof(Cqe) == 16);

struct Queue {
  u16 id, tail, head, phase;
  Sqe* sq;
  volatile Cqe* cq;
  volatile u32 *sq_doorbell, *cq_doorbell;
};

volatile u8* regs;
u32 doorbell_stride;
Queue admin, io;
u64* prp_list;            // one page: the page addresses after the first of one transfer
u8* bounce;               // BOUNCE_BYTES, physically contiguous; also Identify's buffer
u16 next_cid;
bool offline;
DmaDisk disk;
Spinlock lock;

u32 rd32(u32 off) { return *reinterpret_cast<volatile u32*>(regs + off); }
void wr32(u32 off, u32 v) { *reinterpret_cast<volatile u32*>(regs + off) = v; }
u64 rd64(u32 off) { return rd32(off) | u64(rd32(off + 4)) << 32; }
void wr64(u32 off, u64 v) { wr32(off, static_cast<u32>(v)), wr32(off + 4, static_cast<u32>(v >> 32)); }

Queue make_queue(u16 id) {
  Queue q{id, 0, 0, 1, static_cast<Sqe*>(p2v(frame_alloc())), static_cast<Cqe*>(p2v(frame_alloc())),
          nullptr, nullptr};
  q.sq_doorbell = reinterpret_cast<volatile u32*>(regs + DOORBELLS + (2 * id) * doorbell_stride);
  q.cq_doorbell = reinterpret_cast<volatile u32*>(regs + DOORBELLS + (2 * id + 1) * doorbell_stride);
  return q;
}

// Submits one command and polls for its completion: the NVMe status (0 = success), or -1
// when the controller did not answer in time (it is then offline).
int execute(Queue& q, Sqe cmd) {
  if (offline) return -1;
  cmd.cdw0 |= u32(next_cid++) << 16;
  q.sq[q.tail] = cmd;
  q.tail = (q.tail + 1) % QSIZE;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  *q.sq_doorbell = q.tail;
  volatile Cqe& e = q.cq[q.head];
  // Polls memory only: a register read per iteration would take the device's (QEMU's) lock
  // away from the thread completing the command.
  for (Deadline d(COMMAND_TIMEOUT_NS); (e.status & 1) != q.phase;) {
    if (d.passed()) {
      kprintf("bfk: nvme: command 0x%x got no completion (controller status 0x%x); the disk is offline\n",
              cmd.cdw0 & 0xff, rd32(CSTS));
      offline = true;
      return -1;
    }
    cpu_relax();
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  u16 status = static_cast<u16>(e.status >> 1);
  if (++q.head == QSIZE) q.head = 0, q.phase ^= 1;
  *q.cq_doorbell = q.head;
  return status;
}

Sqe command(u8 opcode, u32 nsid, u64 prp1) {
  Sqe c{};
  c.cdw0 = opcode, c.nsid = nsid, c.prp1 = prp1;
  return c;
}

// PRP2 for a physically contiguous transfer of `bytes` at pa: nothing when it stays in
// the first page, the second page when it ends there, else a PRP list of the later pages.
u64 prp2_for(u64 pa, u32 bytes) {
  u64 first_page = align_down(pa, PAGE), end = pa + bytes;
  if (end <= first_page + PAGE) return 0;
  if (end <= first_page + 2 * PAGE) return first_page + PAGE;
  u32 n = 0;
  for (u64 p = first_page + PAGE; p < end; p += PAGE) prp_list[n++] = p;
  return v2p(prp_list);
}

int dma(bool write, u64 block, u32 blocks, u64 pa) {
  Sqe c = command(write ? IO_WRITE : IO_READ, 1, pa);
  c.prp2 = prp2_for(pa, blocks << disk.block_shift);
  c.cdw10 = static_cast<u32>(block), c.cdw11 = static_cast<u32>(block >> 32), c.cdw12 = blocks - 1;
  int s = execute(io, c);
  if (s > 0) kprintf("bfk: nvme: %s of %u blocks at block %lu failed (status 0x%x)\n", write ? "write" : "read",
                     blocks, block, s);
  return s ? EIO : 0;
}

int identify(u32 cns, u32 nsid) {
  Sqe c = command(ADMIN_IDENTIFY, nsid, v2p(bounce));
  c.cdw10 = cns;
  return execute(admin, c);
}

// Waits for CSTS.RDY to read `ready`, up to the controller's own limit (CAP.TO).
bool wait_ready(bool ready, u64 timeout_ns) {
  for (Deadline d(timeout_ns); bool(rd32(CSTS) & CSTS_RDY) != ready;) {
    if (d.passed()) return false;
    cpu_relax();
  }
  return true;
}

bool fail(const char* where, const char* why) {
  kprintf("bfk: nvme %s: %s\n", where, why);
  return false;
}

// Reset, admin queue, enable (NVMe base specification, "Initialization").
bool start_controller(const char* where) {
  u64 cap = rd64(CAP);
  if ((cap >> 48) & 0xf) return fail(where, "the controller's smallest page is larger than 4 KiB");
  u64 timeout_ns = max(u64(1), (cap >> 24) & 0xff) * 500'000'000;
  wr32(CC, 0);
  if (!wait_ready(false, timeout_ns)) return fail(where, "the controller did not stop (CSTS.RDY stays 1)");
  admin = make_queue(0);
  wr32(AQA, u32(QSIZE - 1) << 16 | (QSIZE - 1));
  wr64(ASQ, v2p(admin.sq));
  wr64(ACQ, v2p(const_cast<Cqe*>(admin.cq)));
  wr32(CC, CC_EN | CC_IOSQES | CC_IOCQES);   // NVM command set, 4 KiB pages, round robin
  if (!wait_ready(true, timeout_ns)) return fail(where, "the controller did not become ready");
  return true;
}

// Namespace 1's size and block size (Identify Namespace: NSZE, FLBAS, LBAF).
bool read_namespace(const char* where) {
  if (identify(0, 1)) return fail(where, "Identify Namespace 1 failed");
  u64 blocks;
  memcpy(&blocks, bounce, 8);
  u8 flbas = bounce[26];
  u32 lbaf;
  memcpy(&lbaf, bounce + 128 + 4 * (flbas & 0xf), 4);
  u32 shift = (lbaf >> 16) & 0xff;
  if (!blocks) return fail(where, "namespace 1 is empty or absent");
  if (shift != 9 && shift != 12) {
    char why[96];
    ksnprintf(why, sizeof why, "namespace 1 has 2^%u-byte blocks; only 512 and 4096 are supported", shift);
    return fail(where, why);
  }
  if ((flbas & 0x10) && (lbaf & 0xffff)) return fail(where, "namespace 1 interleaves metadata with its blocks");
  disk.block_shift = shift;
  disk.sectors = blocks << (shift - 9);
  return true;
}

// The I/O completion queue, then its submission queue, both id 1, physically contiguous.
bool create_io_queues(const char* where) {
  io = make_queue(1);
  Sqe c = command(ADMIN_CREATE_CQ, 0, v2p(const_cast<Cqe*>(io.cq)));
  c.cdw10 = u32(QSIZE - 1) << 16 | 1, c.cdw11 = 1;              // contiguous, no interrupts
  if (execute(admin, c)) return fail(where, "Create I/O Completion Queue failed");
  c = command(ADMIN_CREATE_SQ, 0, v2p(io.sq));
  c.cdw10 = u32(QSIZE - 1) << 16 | 1, c.cdw11 = 1u << 16 | 1;   // completes on CQ 1, contiguous
  if (execute(admin, c)) return fail(where, "Create I/O Submission Queue failed");
  return true;
}

bool nvme_init(char* where, usize cap) {
  PciDev d;
  if (!pci_find_class(0x01, 0x08, 0x02, &d)) return false;
  pci_name(d, where, cap);
  u64 bar = pci_memory_bar(d, 0);
  if (!bar) return fail(where, "BAR0 is not a memory BAR");
  pci_enable_mmio_dma(d);
  regs = static_cast<volatile u8*>(mmio_map(bar, PAGE));
  doorbell_stride = 4u << ((rd64(CAP) >> 32) & 0xf);
  regs = static_cast<volatile u8*>(mmio_map(bar, DOORBELLS + 4 * doorbell_stride));   // up to queue 1's doorbells
  bounce = static_cast<u8*>(p2v(frame_alloc_contig(BOUNCE_BYTES / PAGE)));
  prp_list = static_cast<u64*>(p2v(frame_alloc()));
  if (!start_controller(where)) return false;
  if (identify(1, 0)) return fail(where, "Identify Controller failed");
  u8 mdts = bounce[77];   // max transfer: 2^MDTS pages (0: no limit)
  u32 max_bytes = mdts && mdts < 8 ? (PAGE << mdts) : MAX_TRANSFER;
  if (!read_namespace(where) || !create_io_queues(where)) return false;
  if (disk.block_shift == 12) {
    usize n = strlen(where);
    ksnprintf(where + n, cap - n, " (4 KiB blocks)");
  }
  disk.dma = dma;
  disk.max_blocks = max_bytes >> disk.block_shift;
  disk.dma_align = 4;
  disk.dma_limit = ~0ul;
  disk.bounce = bounce;
  disk.bounce_bytes = min(BOUNCE_BYTES, max_bytes);
  return true;
}

u64 nvme_sectors() { return disk.sectors; }

int nvme_read(u64 lba, u32 count, void* buf) {
  LockGuard g(lock);
  return dma_disk_read(disk, lba, count, buf);
}

int nvme_write(u64 lba, u32 count, const void* buf) {
  LockGuard g(lock);
  return dma_disk_write(disk, lba, count, buf);
}

int nvme_flush() {
  LockGuard g(lock);
  return execute(io, command(IO_FLUSH, 1, 0)) ? EIO : 0;
}
}  // namespace

const DiskDriver nvme_driver{"nvme", nvme_init, nvme_sectors, nvme_read, nvme_write, nvme_flush};
