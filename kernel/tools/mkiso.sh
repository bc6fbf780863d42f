#!/usr/bin/env bash
# Builds a GRUB (BIOS) ISO that boots the BareFlow kernel through multiboot, for PCs and
# for QEMU without -kernel. The program and its files still come from the FAT16 disk
# (virtio-blk). Needs the Debian packages grub-pc-bin, xorriso and mtools.
# usage: kernel/tools/mkiso.sh KERNEL OUT.iso
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: mkiso.sh KERNEL OUT.iso" >&2; exit 2; }
kernel=$1 out=$2
command -v grub-mkrescue >/dev/null || { echo "mkiso.sh: grub-mkrescue not found (grub-pc-bin, grub-common)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/boot/grub"
cp "$kernel" "$dir/boot/bareflow-kernel"
cat > "$dir/boot/grub/grub.cfg" <<'CFG'
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_output serial
menuentry "BareFlow" {
  multiboot /boot/bareflow-kernel
  boot
}
CFG
grub-mkrescue -o "$out" "$dir" >/dev/null 2>&1 || { echo "mkiso.sh: grub-mkrescue failed" >&2; exit 1; }
echo "mkiso.sh: wrote $out"
