#!/usr/bin/env bash
# Builds a BIOS-bootable GRUB ISO that loads the BareFlow kernel (multiboot) for PCs and
# QEMU's -cdrom. The program, its arguments and the models stay on the FAT16 data disk
# made by scripts/mkimage.sh; the kernel finds that disk (virtio-blk) at boot.
#
# usage: scripts/mkiso.sh OUT.iso KERNEL [--serial]
#   --serial  also show GRUB's own menu on COM1 (by default GRUB stays on the screen, so
#             COM1 carries only the program's stdout)
set -euo pipefail
die() { echo "mkiso.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: mkiso.sh OUT.iso KERNEL [--serial]"
out=$1 kernel=$2 serial=${3:-}
[ -f "$kernel" ] || die "no such kernel: $kernel"
command -v grub-mkrescue >/dev/null || die "grub-mkrescue not found (Debian packages grub-pc-bin, grub-common, xorriso)"
grub-file --is-x86-multiboot "$kernel" || die "$kernel is not a multiboot kernel"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub"
cp "$kernel" "$stage/boot/bareflow-kernel"
{
  echo "set timeout=0"
  if [ "$serial" = --serial ]; then
    echo "serial --unit=0 --speed=115200"
    echo "terminal_output serial"
  fi
  echo 'menuentry "BareFlow" {'
  echo "  multiboot /boot/bareflow-kernel"
  echo "  boot"
  echo "}"
} > "$stage/boot/grub/grub.cfg"
grub-mkrescue -o "$out" "$stage" >/dev/null 2>&1 || die "grub-mkrescue failed"
echo "mkiso.sh: wrote $out ($(du -h "$out" | cut -f1), GRUB BIOS boot, multiboot kernel $(basename "$kernel"))"
