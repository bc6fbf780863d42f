// multiboot.cpp: reads the multiboot v1 info block or the multiboot2 tag list into BootInfo.
// Everything is read through the boot page tables' direct map (boot.S maps [0, 4 GiB): a
// loader may put its information anywhere below 4 GiB), before mm_init hands any frame out.
#include "multiboot.h"
#include "acpi.h"

namespace {
// ---- multiboot v1 (spec 0.6.96, section 3.3)
struct Mb1Info {
  u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  u32 syms[4];
  u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));
struct Mb1Mmap {
  u32 size;   // of the rest of the entry
  u64 base, len;
  u32 type;
} __attribute__((packed));
constexpr u32 MB1_MEM = 1u << 0, MB1_CMDLINE = 1u << 2, MB1_MMAP = 1u << 6, MB1_LOADER_NAME = 1u << 9;

// ---- multiboot2 (spec 2.0, section 3.6): u32 total_size, u32 reserved, then 8-aligned tags.
struct Mb2Tag { u32 type, size; };
enum Mb2TagType : u32 {
  MB2_END = 0, MB2_CMDLINE = 1, MB2_LOADER_NAME = 2, MB2_BASIC_MEM = 4, MB2_MMAP = 6,
  MB2_ACPI_OLD = 14, MB2_ACPI_NEW = 15,
};
struct Mb2Mmap { u32 entry_size, entry_version; };   // then entries of entry_size bytes
struct Mb2MmapEntry { u64 base, len; u32 type, reserved; };
constexpr u32 RAM_AVAILABLE = 1;   // memory-map type, the same in both protocols
constexpr u32 MB2_INFO_MAX = 1u << 20;   // a sane upper bound for total_size

template <class T> const T* at(u64 pa) { return static_cast<const T*>(p2v(pa)); }

void add_ram(BootInfo& b, u64 base, u64 len) {
  if (len && b.nram < static_cast<int>(sizeof b.ram / sizeof b.ram[0])) b.ram[b.nram++] = MemRange{base, base + len};
}

// The frame allocator walks the ranges upwards; firmware maps need not be sorted.
void sort_ram(BootInfo& b) {
  for (int i = 1; i < b.nram; i++)
    for (int j = i; j > 0 && b.ram[j].base < b.ram[j - 1].base; j--) {
      MemRange t = b.ram[j];
      b.ram[j] = b.ram[j - 1];
      b.ram[j - 1] = t;
    }
}

// QEMU's -kernel loader passes "KERNEL-PATH -append-text"; GRUB 2 (multiboot and
// multiboot2) passes only the text after the kernel's path on its `multiboot` line.
void copy_cmdline(BootInfo& b, const char* s, bool skip_kernel_path) {
  if (skip_kernel_path) {
    while (*s && *s != ' ') s++;
    while (*s == ' ') s++;
  }
  strncpy0(b.cmdline, s, sizeof b.cmdline);
}

void read_v1(u32 info, BootInfo& b) {
  auto mb = at<Mb1Info>(info);
  if (mb->flags & MB1_MMAP) {
    for (u32 off = 0; off + sizeof(Mb1Mmap) <= mb->mmap_length;) {
      auto e = at<Mb1Mmap>(mb->mmap_addr + off);
      if (e->type == RAM_AVAILABLE) add_ram(b, e->base, e->len);
      off += e->size + 4;
    }
  } else if (mb->flags & MB1_MEM) {
    add_ram(b, 0x100000, u64(mb->mem_upper) * 1024);
  }
  if ((mb->flags & MB1_LOADER_NAME) && mb->boot_loader_name)
    strncpy0(b.loader, at<char>(mb->boot_loader_name), sizeof b.loader);
  if ((mb->flags & MB1_CMDLINE) && mb->cmdline) copy_cmdline(b, at<char>(mb->cmdline), !strcmp(b.loader, "qemu"));
}

void read_v2_mmap(BootInfo& b, const Mb2Tag* t) {
  auto m = reinterpret_cast<const Mb2Mmap*>(t + 1);
  if (m->entry_size < sizeof(Mb2MmapEntry)) return;
  auto p = reinterpret_cast<const u8*>(m + 1), end = reinterpret_cast<const u8*>(t) + t->size;
  for (; p + sizeof(Mb2MmapEntry) <= end; p += m->entry_size) {
    auto e = reinterpret_cast<const Mb2MmapEntry*>(p);
    if (e->type == RAM_AVAILABLE) add_ram(b, e->base, e->len);
  }
}

void read_v2(u32 info, BootInfo& b) {
  u32 total = *at<u32>(info);
  if (total < 16 || total > MB2_INFO_MAX) panic("multiboot2 information of %u bytes", total);
  bool have_mmap = false, have_new_rsdp = false;
  u32 mem_upper_kib = 0;
  for (u32 off = 8; off + sizeof(Mb2Tag) <= total;) {
    auto t = at<Mb2Tag>(info + off);
    if (t->type == MB2_END || t->size < sizeof(Mb2Tag) || t->size > total - off) break;
    auto body = reinterpret_cast<const u8*>(t + 1);
    u32 body_len = t->size - sizeof(Mb2Tag);
    switch (t->type) {
      case MB2_CMDLINE: copy_cmdline(b, reinterpret_cast<const char*>(body), false); break;
      case MB2_LOADER_NAME: strncpy0(b.loader, reinterpret_cast<const char*>(body), sizeof b.loader); break;
      case MB2_BASIC_MEM: if (body_len >= 8) mem_upper_kib = *reinterpret_cast<const u32*>(body + 4); break;
      case MB2_MMAP: read_v2_mmap(b, t); have_mmap = true; break;
      case MB2_ACPI_NEW: acpi_set_rsdp(body, body_len); have_new_rsdp = true; break;
      case MB2_ACPI_OLD: if (!have_new_rsdp) acpi_set_rsdp(body, body_len); break;
      default: break;
    }
    off += static_cast<u32>(align_up(t->size, 8));
  }
  if (!have_mmap) add_ram(b, 0x100000, u64(mem_upper_kib) * 1024);
}
}  // namespace

void boot_info_read(u32 magic, u32 info, BootInfo& b) {
  if (magic == MULTIBOOT_BOOT_MAGIC) {
    b.protocol = 1;
    read_v1(info, b);
    // Under a hypervisor, QEMU's own -kernel loader is the only thing that ran before us.
    b.ram_pristine = !strcmp(b.loader, "qemu");
  } else if (magic == MULTIBOOT2_BOOT_MAGIC) {
    b.protocol = 2;
    read_v2(info, b);
  } else {
    panic("not started by a multiboot or multiboot2 loader (magic 0x%x)", magic);
  }
  sort_ram(b);
}
