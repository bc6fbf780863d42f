// main.cpp: kmain, the boot sequence: serial, CPU, memory, time, then run the program.
#include "cpu.h"
#include "mm.h"
#include "serial.h"
#include "time.h"

extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace {
u8 kstack0[64 * 1024] __attribute__((aligned(16)));

struct MbInfo {
  u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  u32 syms[4];
  u32 mmap_length, mmap_addr;
} __attribute__((packed));
struct MbMmap {
  u32 size;
  u64 base, len;
  u32 type;
} __attribute__((packed));

void run_constructors() {
  for (auto f = __init_array_start; f != __init_array_end; f++) (*f)();
}

// Copy the firmware memory map out of the multiboot info before any frame is allocated.
int read_memory_map(u32 magic, u32 info, MemRange* out, int cap) {
  if (magic != 0x2badb002) panic("not started by a multiboot loader (magic 0x%x)", magic);
  auto mb = static_cast<const MbInfo*>(p2v(info));
  int n = 0;
  if (mb->flags & (1u << 6)) {
    for (u32 off = 0; off < mb->mmap_length && n < cap;) {
      auto e = static_cast<const MbMmap*>(p2v(mb->mmap_addr + off));
      if (e->type == 1) out[n++] = MemRange{e->base, e->base + e->len};
      off += e->size + 4;
    }
  } else if (mb->flags & 1) {
    out[n++] = MemRange{0x100000, 0x100000 + u64(mb->mem_upper) * 1024};
  }
  return n;
}
}  // namespace

extern "C" void kmain(u32 magic, u32 info) {
  serial_init();
  run_constructors();
  MemRange ram[32];
  int nram = read_memory_map(magic, info, ram, 32);
  cpu_init(0, reinterpret_cast<u64>(kstack0 + sizeof kstack0));
  mm_init(ram, nram);
  time_init();
  kprintf("bfk: BareFlow kernel: %lu MiB RAM, TSC %lu MHz, XCR0 0x%lx\n", mm_total_bytes() >> 20,
          tsc_hz() / 1000000, cpu_xcr0());
  machine_exit(0);
}

extern "C" u64 current_user_rip() { return 0; }
extern "C" void syscall_dispatch(Regs*) { panic("syscall"); }
