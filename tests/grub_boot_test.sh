#!/usr/bin/env bash
# Boots the kernel the way a PC does, through GRUB from an ISO (SeaBIOS, TCG so it runs
# anywhere), with the FAT16 disk holding bareflow and stories260K; the guest's stdout
# must equal the Linux run of the same binary and arguments.
# usage: grub_boot_test.sh KERNEL BAREFLOW SHARED
set -uo pipefail
kernel=$1 bareflow=$2 shared=$3
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$shared/models/stories260K
args=(run -m /models/stories260K.bin -z /models/tok512.bin -p "Once upon a time" -n 24 --temp 0 -t 1)

bash "$root/scripts/mkiso.sh" "$work/bf.iso" "$kernel" || exit 1
bash "$root/scripts/mkimage.sh" "$work/disk.img" --file "$bareflow=/bareflow" \
  --file "$model/stories260K.bin=/models/stories260K.bin" --file "$model/tok512.bin=/models/tok512.bin" \
  --cmdline "/bareflow run -m /models/stories260K.bin -z /models/tok512.bin -p \"Once upon a time\" -n 24 --temp 0 -t 1" || exit 1

timeout -k 5 300 qemu-system-x86_64 -nodefaults -display none -no-reboot -m 512 -accel tcg -cpu max \
  -boot d -cdrom "$work/bf.iso" -drive "file=$work/disk.img,format=raw,if=virtio" \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -serial "file:$work/stdout.txt" -serial "file:$work/stderr.txt" </dev/null
rc=$?
if [ $rc -ne 1 ]; then  # isa-debug-exit: (status << 1) | 1, so 1 is a clean exit 0
  echo "grub boot: QEMU exited with $rc"; cat "$work/stderr.txt"; exit 1
fi

# On Linux, the same binary reads the same files from the host.
"$bareflow" run -m "$model/stories260K.bin" -z "$model/tok512.bin" -p "Once upon a time" -n 24 --temp 0 -t 1 \
  > "$work/linux.txt" 2>/dev/null || { echo "linux run failed"; exit 1; }
tr -d '\r' < "$work/stdout.txt" > "$work/guest.txt"
if ! cmp -s "$work/guest.txt" "$work/linux.txt"; then
  echo "guest output differs from Linux:"; diff "$work/linux.txt" "$work/guest.txt"; exit 1
fi
echo "grub boot: guest output equals Linux ($(wc -c < "$work/linux.txt") bytes)"
