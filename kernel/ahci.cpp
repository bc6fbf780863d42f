// ahci.cpp: command slot 0 only, one PRDT entry per command (the buffers dma_disk hands
// over are physically contiguous). A command that fails or times out takes the port
// offline (later requests get -EIO): recovering needs a port reset this driver does not do.
#include "ahci.h"
#include "mm.h"
#include "pci.h"
#include "time.h"

namespace {
// HBA and port registers (AHCI 1.3.1, sections 3.1 and 3.3).
enum : u32 { CAP = 0x00, GHC = 0x04, PI = 0x0c, CAP2 = 0x24, BOHC = 0x28, PORTS = 0x100, PORT_SIZE = 0x80 };
constexpr u32 CAP_S64A = 1u << 31, GHC_AE = 1u << 31, CAP2_BOH = 1, BOHC_BOS = 1, BOHC_OOS = 2;
enum : u32 { P_CLB = 0x00, P_FB = 0x08, P_IS = 0x10, P_IE = 0x14, P_CMD = 0x18, P_TFD = 0x20, P_SIG = 0x24,
             P_SSTS = 0x28, P_SERR = 0x30, P_CI = 0x38 };
constexpr u32 CMD_ST = 1, CMD_SUD = 2, CMD_POD = 4, CMD_FRE = 1 << 4, CMD_FR = 1 << 14, CMD_CR = 1 << 15;
constexpr u32 IS_TFES = 1u << 30;
constexpr u32 TFD_ERR = 0x01, TFD_DRQ = 0x08, TFD_BSY = 0x80;
constexpr u32 SSTS_PRESENT = 3, SIG_SATA = 0x00000101;
enum : u8 { ATA_READ_DMA_EXT = 0x25, ATA_WRITE_DMA_EXT = 0x35, ATA_FLUSH_CACHE_EXT = 0xea, ATA_IDENTIFY = 0xec };
constexpr u32 MAX_SECTORS = 8192;        // 4 MiB: the most one PRDT entry holds
constexpr u32 BOUNCE_BYTES = 64 * 1024;
constexpr u64 COMMAND_TIMEOUT_NS = 10'000'000'000;
constexpr int EIO = -5;

struct CmdHeader { u16 flags, prdt_length; u32 bytes_done; u64 table; u32 rsvd[4]; };
struct Prd { u64 address; u32 rsvd, byte_count_m1; };
struct CmdTable { u8 fis[64], atapi[16], rsvd[48]; Prd prdt[1]; };
static_assert(sizeof(CmdHeader) == 32 && sizeof(Prd) == 16 && sizeof(CmdTable) == 144);

volatile u8* hba;         // the controller's registers (ABAR)
volatile u8* port;        // the chosen port's registers
CmdHeader* cmd_list;      // 32 headers (1 KiB); only slot 0 is used
CmdTable* table;
u8* bounce;               // BOUNCE_BYTES, physically contiguous; also IDENTIFY's buffer
bool offline;
DmaDisk disk;
Spinlock lock;

volatile u32& hba_reg(u32 off) { return *reinterpret_cast<volatile u32*>(hba + off); }
volatile u32& port_reg(u32 off) { return *reinterpret_cast<volatile u32*>(port + off); }
u32 rd(u32 off) { return port_reg(off); }
void wr(u32 off, u32 v) { port_reg(off) = v; }

bool wait_clear(volatile u32& reg, u32 bits, u64 timeout_ns = COMMAND_TIMEOUT_NS) {
  for (Deadline d(timeout_ns); reg & bits;) {
    if (d.passed()) return false;
    cpu_relax();
  }
  return true;
}

// Firmware that still drives the controller (BIOS/OS handoff, AHCI 1.3.1 section 10.6)
// is asked to let go; 2 s is the most the specification lets it take.
void take_from_firmware() {
  if (!(hba_reg(CAP2) & CAP2_BOH)) return;
  hba_reg(BOHC) = hba_reg(BOHC) | BOHC_OOS;
  if (!wait_clear(hba_reg(BOHC), BOHC_BOS, 2'000'000'000)) kprintf("bfk: ahci: the firmware keeps the controller\n");
}

// A Register H2D FIS: command, 48-bit LBA, sector count, LBA mode.
void build_fis(u8 command, u64 lba, u32 count) {
  u8* f = table->fis;
  memset(f, 0, sizeof table->fis);
  f[0] = 0x27, f[1] = 0x80, f[2] = command, f[7] = 0x40;   // type, "command" bit, LBA mode
  for (int i = 0; i < 3; i++) {
    f[4 + i] = static_cast<u8>(lba >> (8 * i));
    f[8 + i] = static_cast<u8>(lba >> (24 + 8 * i));
  }
  f[12] = static_cast<u8>(count), f[13] = static_cast<u8>(count >> 8);
}

// Issues one command in slot 0 and polls for it: 0, or -EIO (port then offline).
int issue(u8 command, u64 lba, u32 count, u64 pa, u32 bytes, bool write) {
  if (offline) return EIO;
  if (!wait_clear(port_reg(P_TFD), TFD_BSY | TFD_DRQ)) {
    kprintf("bfk: ahci: the disk stays busy (task file 0x%x); the disk is offline\n", rd(P_TFD));
    offline = true;
    return EIO;
  }
  build_fis(command, lba, count);
  if (bytes) table->prdt[0] = Prd{pa, 0, bytes - 1};
  cmd_list[0] = CmdHeader{static_cast<u16>(5 | (write ? 1 << 6 : 0)), static_cast<u16>(bytes ? 1 : 0), 0,
                          v2p(table), {}};   // FIS length 5 dwords; W = host to device
  wr(P_IS, ~0u);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  wr(P_CI, 1);
  bool timed_out = false;
  for (Deadline d(COMMAND_TIMEOUT_NS); rd(P_CI) & 1 && !(rd(P_IS) & IS_TFES);) {
    if ((timed_out = d.passed())) break;
    cpu_relax();
  }
  if (timed_out || rd(P_IS) & IS_TFES || rd(P_TFD) & TFD_ERR) {
    kprintf("bfk: ahci: command 0x%x (%u sectors at %lu) %s (task file 0x%x, interrupt status 0x%x); "
            "the disk is offline\n", command, count, lba, timed_out ? "timed out" : "failed", rd(P_TFD), rd(P_IS));
    offline = true;
    return EIO;
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return 0;
}

int dma(bool write, u64 block, u32 blocks, u64 pa) {
  return issue(write ? ATA_WRITE_DMA_EXT : ATA_READ_DMA_EXT, block, blocks, pa, blocks * 512, write);
}

bool fail(const char* where, const char* why) {
  kprintf("bfk: ahci %s: %s\n", where, why);
  return false;
}

// Stops the port's engines, points it at our command list and FIS area, restarts it.
bool start_port() {
  wr(P_CMD, rd(P_CMD) & ~(CMD_ST | CMD_FRE));
  if (!wait_clear(port_reg(P_CMD), CMD_CR | CMD_FR)) return false;
  u64 page = frame_alloc();   // command list at 0 (1 KiB aligned), received FISes at 1 KiB, table at 2 KiB
  cmd_list = static_cast<CmdHeader*>(p2v(page));
  table = static_cast<CmdTable*>(p2v(page + 2048));
  wr(P_CLB, static_cast<u32>(page)), wr(P_CLB + 4, static_cast<u32>(page >> 32));
  wr(P_FB, static_cast<u32>(page + 1024)), wr(P_FB + 4, static_cast<u32>((page + 1024) >> 32));
  wr(P_IE, 0);
  wr(P_SERR, ~0u), wr(P_IS, ~0u);
  wr(P_CMD, rd(P_CMD) | CMD_SUD | CMD_POD | CMD_FRE);
  wr(P_CMD, rd(P_CMD) | CMD_ST);
  return true;
}

// The device's signature, valid once its first D2H FIS arrived (which needs FIS receive on).
u32 port_signature() {
  for (Deadline d(1'000'000'000); rd(P_TFD) & TFD_BSY || rd(P_SIG) == ~0u;) {
    if (d.passed()) break;
    cpu_relax();
  }
  return rd(P_SIG);
}

// Starts the first implemented port whose link is up with a SATA disk (not ATAPI) behind
// it, and leaves `port` pointing at it; false when there is none.
bool start_disk_port() {
  u32 implemented = hba_reg(PI);
  for (u32 p = 0; p < 32; p++) {
    if (!(implemented & (1u << p))) continue;
    port = hba + PORTS + p * PORT_SIZE;
    if ((rd(P_SSTS) & 0xf) != SSTS_PRESENT || !start_port()) continue;
    if (port_signature() == SIG_SATA) return true;
    wr(P_CMD, rd(P_CMD) & ~(CMD_ST | CMD_FRE));
  }
  return false;
}

bool ahci_init(char* where, usize cap) {
  PciDev d;
  if (!pci_find_class(0x01, 0x06, 0x01, &d)) return false;
  pci_name(d, where, cap);
  u64 abar = pci_memory_bar(d, 5);
  if (!abar) return fail(where, "BAR5 (ABAR) is not a memory BAR");
  pci_enable_mmio_dma(d);
  hba = static_cast<volatile u8*>(mmio_map(abar, PORTS + 32 * PORT_SIZE));
  take_from_firmware();
  hba_reg(GHC) = hba_reg(GHC) | GHC_AE;   // AHCI mode (not legacy IDE emulation)
  if (!start_disk_port()) return fail(where, "no SATA disk on any port");
  bounce = static_cast<u8*>(p2v(frame_alloc_contig(BOUNCE_BYTES / PAGE)));
  if (issue(ATA_IDENTIFY, 0, 0, v2p(bounce), 512, false)) return fail(where, "IDENTIFY DEVICE failed");
  u16 id[256];
  memcpy(id, bounce, sizeof id);
  if (!(id[83] & (1u << 10))) return fail(where, "the disk has no 48-bit LBA");
  if ((id[106] & 0xc000) == 0x4000 && (id[106] & (1u << 12)))
    return fail(where, "the disk's logical sectors are not 512 bytes");
  u64 limit = hba_reg(CAP) & CAP_S64A ? ~0ul : 1ul << 32;   // 32-bit HBAs bounce memory above 4 GiB
  disk = DmaDisk{dma, 9, MAX_SECTORS, 2, limit, bounce, BOUNCE_BYTES,
                 u64(id[100]) | u64(id[101]) << 16 | u64(id[102]) << 32 | u64(id[103]) << 48};
  return disk.sectors != 0;
}

u64 ahci_sectors() { return disk.sectors; }

int ahci_read(u64 lba, u32 count, void* buf) {
  LockGuard g(lock);
  return dma_disk_read(disk, lba, count, buf);
}

int ahci_write(u64 lba, u32 count, const void* buf) {
  LockGuard g(lock);
  return dma_disk_write(disk, lba, count, buf);
}

int ahci_flush() {
  LockGuard g(lock);
  return issue(ATA_FLUSH_CACHE_EXT, 0, 0, 0, 0, false);
}
}  // namespace

const DiskDriver ahci_driver{"ahci", ahci_init, ahci_sectors, ahci_read, ahci_write, ahci_flush};
