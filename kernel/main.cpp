// main.cpp: kmain, the boot sequence: serial, CPU, memory, time, then run the program.
#include "cpu.h"
#include "mm.h"
#include "serial.h"
#include "time.h"
#include "proc.h"
#include "syscall.h"
#include "vfs.h"
#include "smp.h"
#include "virtio.h"
#include "ata.h"
#include "nvme.h"
#include "ahci.h"
#include "acpi.h"
#include "multiboot.h"

extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace {
u8 kstack0[64 * 1024] __attribute__((aligned(16)));

void run_constructors() {
  for (auto f = __init_array_start; f != __init_array_end; f++) (*f)();
}

// The 8259 PICs: move them off the exception vectors and mask every line.
void pic_disable() {
  const u8 seq[][2] = {{0x20, 0x11}, {0xa0, 0x11}, {0x21, 0x20}, {0xa1, 0x28}, {0x21, 4}, {0xa1, 2},
                       {0x21, 1}, {0xa1, 1}, {0x21, 0xff}, {0xa1, 0xff}};
  for (auto& p : seq) outb(p[0], p[1]);
}

// The disk drivers in probing order: the paravirtual disk first, then real controllers.
const DiskDriver* const disk_drivers[] = {&virtio_blk_driver, &nvme_driver, &ahci_driver, &ata_driver};

const DiskDriver& driver_of(void* ctx) { return *static_cast<const DiskDriver*>(ctx); }
int blk_read(void* ctx, uint64_t lba, uint32_t n, void* buf) { return driver_of(ctx).read(lba, n, buf); }
int blk_write(void* ctx, uint64_t lba, uint32_t n, const void* buf) { return driver_of(ctx).write(lba, n, buf); }
int blk_flush(void* ctx) { return driver_of(ctx).flush(); }
int64_t blk_now(void*) { return static_cast<int64_t>(time_real_ns() / 1000000000); }
Fat16BlockDevice disk{nullptr, blk_read, blk_write, blk_flush, 0, blk_now};

[[noreturn]] void boot_fail(const char* msg) {
  kprintf("bfk: boot failed: %s\n", msg);
  machine_exit(EXIT_BOOT_FAILED);
}

// The first driver that finds a usable disk becomes the file system's device.
void probe_disks() {
  for (const DiskDriver* d : disk_drivers) {
    char where[64] = "";
    if (!d->init(where, sizeof where)) continue;
    disk.ctx = const_cast<DiskDriver*>(d);
    disk.sector_count = d->sectors();
    kprintf("bfk: disk: %s %s, %lu sectors\n", d->name, where, disk.sector_count);
    return;
  }
  boot_fail("no disk (probed virtio-blk, NVMe, AHCI and ATA)");
}

// boot.cfg (see docs/KERNEL.md): '#' comments, "env NAME=VALUE", "cwd /dir", and one
// command line starting with '/': the program's path, then its arguments. Arguments
// split on blanks; double quotes group, backslash escapes the next character.
struct BootCfg {
  char text[4096];
  char words[4096];
  char* argv[64];
  char* envp[32];
  int argc, envc;
  const char* cwd;
};

// Splits one command line into argv (in place into cfg.words).
bool split_args(BootCfg& c, const char* line, usize len) {
  static usize used = 0;
  for (usize i = 0; i < len;) {
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i >= len) break;
    if (c.argc == 63) return false;
    c.argv[c.argc++] = c.words + used;
    bool quoted = false;
    for (; i < len && (quoted || (line[i] != ' ' && line[i] != '\t')); i++) {
      if (line[i] == '"') { quoted = !quoted; continue; }
      if (line[i] == '\\' && i + 1 < len) i++;
      if (used + 2 >= sizeof c.words) return false;
      c.words[used++] = line[i];
    }
    if (quoted) return false;
    c.words[used++] = 0;
  }
  c.argv[c.argc] = nullptr;
  return c.argc > 0;
}

// The loader's command line after the kernel's own path (QEMU -append, GRUB's multiboot
// line), when it starts with '/', replaces boot.cfg's command line.
char cmdline_override[1024];

const char* parse_boot_cfg(BootCfg& c, usize n) {
  bool have_cmd = cmdline_override[0] != 0;
  if (have_cmd && !split_args(c, cmdline_override, strlen(cmdline_override)))
    return "unbalanced quotes or too many arguments in the loader's command line";
  for (usize i = 0; i < n;) {
    usize e = i;
    while (e < n && c.text[e] != '\n') e++;
    usize end = e;
    if (end > i && c.text[end - 1] == '\r') end--;
    char* line = c.text + i;
    usize len = end - i;
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    if (len && *line == '/') {
      if (cmdline_override[0]) { i = e + 1; continue; }   // replaced by the loader's command line
      if (have_cmd) return "more than one command line (lines starting with '/')";
      if (!split_args(c, line, len)) return "unbalanced quotes or too many arguments in the command line";
      have_cmd = true;
    } else if (len > 4 && !strncmp(line, "env ", 4)) {
      if (c.envc == 31) return "too many env lines";
      line[len] = 0;
      c.envp[c.envc++] = line + 4;
    } else if (len > 4 && !strncmp(line, "cwd ", 4)) {
      line[len] = 0;
      c.cwd = line + 4;
    } else if (len && *line != '#') {
      return "unrecognised line (expected '/program args', 'env NAME=VALUE', 'cwd /dir' or '# comment')";
    }
    i = e + 1;
  }
  return have_cmd ? nullptr : "no command line (a line starting with '/')";
}
}  // namespace

extern "C" void kmain(u32 magic, u32 info) {
  serial_init();
  run_constructors();
  static BootInfo boot;
  boot_info_read(magic, info, boot);
  if (boot.cmdline[0] == '/') strncpy0(cmdline_override, boot.cmdline, sizeof cmdline_override);
  cpu_init(0, reinterpret_cast<u64>(kstack0 + sizeof kstack0));
  pic_disable();
  mm_init(boot.ram, boot.nram, boot.ram_pristine);
  time_init();
  smp_init();
  vfs_init_console();
  probe_disks();
  if (vfs_mount(&disk) < 0) boot_fail("the disk has no usable FAT16 file system");
  static BootCfg cfg;
  i64 n = vfs_read_file("/boot.cfg", cfg.text, sizeof cfg.text - 1);
  if (n < 0 && !cmdline_override[0]) boot_fail("/boot.cfg not found on the disk");
  if (n < 0) n = 0;
  if (n == sizeof cfg.text - 1) boot_fail("/boot.cfg is larger than 4 KiB");
  cfg.text[n] = 0;
  if (const char* err = parse_boot_cfg(cfg, static_cast<usize>(n))) {
    char msg[256];
    ksnprintf(msg, sizeof msg, "bad /boot.cfg: %s", err);
    boot_fail(msg);
  }
  if (cfg.cwd && vfs_chdir(cfg.cwd) < 0) kprintf("bfk: warning: cwd %s not found; using /\n", cfg.cwd);
  static Regs user;
  const char* why = "";
  i64 r = proc_load(cfg.argv[0], cfg.argc, cfg.argv, cfg.envc, cfg.envp, &user, &why);
  if (r < 0) {
    char msg[400];
    ksnprintf(msg, sizeof msg, "cannot run %s: %s (%s)", cfg.argv[0], why, fat16_strerror(static_cast<int>(r)));
    boot_fail(msg);
  }
  u64 boot_ns = time_mono_ns();
  kprintf("bfk: %lu MiB RAM, %d CPU, TSC %lu MHz, XCR0 0x%lx; starting %s after %lu.%03lu ms (TSC at entry %lu, "
          "loaded by %s via multiboot%s)\n",
          mm_total_bytes() >> 20, ncpus, tsc_hz() / 1000000, cpu_xcr0(), cfg.argv[0], boot_ns / 1000000,
          boot_ns / 1000 % 1000, boot_tsc0, boot.loader[0] ? boot.loader : "?", boot.protocol == 2 ? "2" : "");
  enter_user(&user);
}

extern "C" u64 current_user_rip() { return this_cpu()->user_rip; }
