#!/usr/bin/env bash
# Time from QEMU's start to the program's first instruction (the kernel's "starting PROGRAM"
# line on COM2, time-stamped as it arrives) for the three ways the kernel boots, under TCG:
#   -kernel    scripts/boot.sh: QEMU's own multiboot loader (qboot firmware when installed)
#   bios-iso   the GRUB ISO (kernel/tools/mkiso.sh) under SeaBIOS, GRUB's multiboot
#   uefi-iso   the same ISO under OVMF, GRUB EFI's multiboot2
# The program runs to its end each time; only the time to its start is reported, and in
# brackets the kernel's own share (its TSC-measured "after X ms": kernel entry to program).
# usage: kernel/tests/boot_time.sh KERNEL IMAGE [RUNS]     (IMAGE from scripts/mkimage.sh)
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: boot_time.sh KERNEL IMAGE [RUNS]" >&2; exit 2; }
kernel=$1 image=$2 runs=${3:-3}
[ -f "$kernel" ] || { echo "boot_time.sh: no such kernel: $kernel" >&2; exit 2; }
[ -f "$image" ] || { echo "boot_time.sh: no such image: $image" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "boot_time.sh: RUNS must be a positive number, got '$runs'" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/kernel/tests/firmware_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/kernel/tools/mkiso.sh" "$kernel" "$work/bfk.iso" >/dev/null || { echo "boot_time.sh: mkiso.sh failed" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
# Each boot gets its own copy: the program may write to the disk.
fresh_disk() { cp "$image" "$work/disk.img"; }

boot_kernel() {
  local t0
  t0=$(date +%s%N)
  "$root/scripts/boot.sh" "$work/disk.img" --kernel "$kernel" --accel tcg --timeout "${BOOT_TIMEOUT:-240}" \
    2>&1 >"$work/out" </dev/null | stamp_lines "$t0" >"$work/log"
}

echo "boot_time.sh: QEMU start to the program's first instruction, ms (TCG; $(lscpu | sed -n 's/^Model name: *//p'))"
for way in -kernel bios-iso uefi-iso; do
  times=() kernel_ms=()
  for ((i = 0; i < runs; i++)); do
    fresh_disk
    case "$way" in
      -kernel) boot_kernel ;;
      bios-iso) iso_boot bios "$work/bfk.iso" "$work/disk.img" "$work/out" "$work/log" ;;
      uefi-iso) iso_boot uefi "$work/bfk.iso" "$work/disk.img" "$work/out" "$work/log" ;;
    esac
    ms=$(ms_to_program "$work/log") || { echo "boot_time.sh: $way: the program did not start; kernel log:" >&2; cat "$work/log" >&2; exit 1; }
    times+=("$ms")
    kernel_ms+=("$(grep -m1 'bfk: .*starting /' "$work/log" | sed -n 's/.* after \([0-9]*\)\.[0-9]* ms.*/\1/p')")
  done
  printf '  %-9s median %6d ms   runs: %-22s (kernel: %s ms)\n' "$way" "$(median "${times[@]}")" "${times[*]}" \
    "${kernel_ms[*]}"
done
