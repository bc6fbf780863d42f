#!/usr/bin/env bash
# Builds a GRUB ISO that boots the BareFlow kernel on BIOS and on UEFI PCs, and in QEMU
# without -kernel. grub-mkrescue puts in every GRUB platform installed: i386-pc (Debian
# grub-pc-bin: El Torito BIOS boot, GRUB's `multiboot` loader) and x86_64-efi (Debian
# grub-efi-amd64-bin: an EFI system partition with /EFI/BOOT/BOOTX64.EFI, GRUB's
# `multiboot2` loader, which also passes the ACPI RSDP). The ISO is hybrid: it can be
# written to a USB stick as is. The program and its files still come from the FAT16 disk.
# Also needs xorriso and mtools.
# usage: kernel/tools/mkiso.sh KERNEL OUT.iso ["/program args"]
#   The optional command line goes on GRUB's multiboot line and replaces boot.cfg's (see
#   docs/KERNEL.md); GRUB's own quoting rules apply to it.
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: mkiso.sh KERNEL OUT.iso [\"/program args\"]" >&2; exit 2; }
kernel=$1 out=$2 cmdline=${3:-}
case "$cmdline" in
  *$'\n'*) echo "mkiso.sh: the command line must be one line" >&2; exit 2 ;;
  ""|/*) ;;
  *) echo "mkiso.sh: the command line must start with the program's absolute path, got '$cmdline'" >&2; exit 2 ;;
esac
[ -f "$kernel" ] || { echo "mkiso.sh: no such kernel: $kernel" >&2; exit 2; }
command -v grub-mkrescue >/dev/null || { echo "mkiso.sh: grub-mkrescue not found (grub-common)" >&2; exit 2; }
platforms=()
for p in i386-pc x86_64-efi; do [ -d "/usr/lib/grub/$p" ] && platforms+=("$p"); done
[ ${#platforms[@]} -gt 0 ] || { echo "mkiso.sh: no GRUB platform installed (grub-pc-bin, grub-efi-amd64-bin)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/boot/grub"
cp "$kernel" "$dir/boot/bareflow-kernel"
# GRUB's serial command drives the PC's COM1 on both platforms; the kernel reprograms it.
cat > "$dir/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_output serial
menuentry "BareFlow" {
  if [ "\$grub_platform" = efi ]; then
    # The kernel's console is the serial port: no video mode to look for.
    set gfxpayload=keep
    multiboot2 /boot/bareflow-kernel $cmdline
  else
    multiboot /boot/bareflow-kernel $cmdline
  fi
  boot
  # Only reached when the kernel could not be loaded: say so and power off, do not hang.
  echo "BareFlow: GRUB could not boot /boot/bareflow-kernel"
  sleep 5
  halt
}
CFG
log=$(mktemp)
grub-mkrescue -o "$out" "$dir" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; echo "mkiso.sh: grub-mkrescue failed" >&2; exit 1; }
rm -f "$log"
echo "mkiso.sh: wrote $out (GRUB platforms: ${platforms[*]})"
