// multiboot.h: what the kernel takes from its boot loader, under either protocol:
// multiboot v1 (QEMU -kernel, GRUB's `multiboot`) or multiboot2 (GRUB's `multiboot2`,
// the UEFI path: GRUB EFI exits boot services and enters boot.S in 32-bit mode).
#pragma once
#include "mm.h"

constexpr u32 MULTIBOOT_BOOT_MAGIC = 0x2badb002, MULTIBOOT2_BOOT_MAGIC = 0x36d76289;

struct BootInfo {
  MemRange ram[32];     // usable RAM, sorted by base
  int nram;
  char cmdline[1024];   // the loader's command line after the kernel's own path ("" if none)
  char loader[32];      // the boot loader's name ("qemu", "GRUB 2.06", ...), for the log
  int protocol;         // 1 or 2
  // RAM that nothing touched before the kernel: QEMU's -kernel loader (under a hypervisor,
  // fresh RAM is zero). GRUB and UEFI firmware leave data behind in "available" RAM.
  bool ram_pristine;
};

// Copies everything the kernel needs out of the loader's structures (they live in RAM
// the frame allocator will hand out), including the ACPI RSDP when the loader passes one
// (multiboot2: on UEFI there is no BIOS area to find it in). Panics on an unknown magic.
// `out` must start zeroed (static storage: the loader cleared the bss).
void boot_info_read(u32 magic, u32 info, BootInfo& out);
