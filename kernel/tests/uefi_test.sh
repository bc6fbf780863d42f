#!/usr/bin/env bash
# UEFI boot tests (run by CTest, see kernel/CMakeLists.txt): the hybrid GRUB ISO from
# kernel/tools/mkiso.sh booted by OVMF (QEMU, TCG), GRUB EFI loading the kernel through
# multiboot2, the FAT16 disk as virtio-blk.
# usage: uefi_test.sh CASE WORKDIR KERNEL SYSTEST [BAREFLOW SHARED]
#   systest                 the guest syscall checks; the command line comes from GRUB's
#                           multiboot2 line and overrides boot.cfg's (which would crash)
#   threads                 two threads on two CPUs (the APs started after UEFI firmware)
#   bareflow-stories260k    bareflow's text equals the Linux run's, byte for byte
# Exit status 77 (CTest: skipped) when OVMF or GRUB EFI is not installed.
set -uo pipefail
case_name=$1 work=$2 kernel=$3 systest=$4 bareflow=${5:-} shared=${6:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/kernel/tests/firmware_lib.sh"
mkdir -p "$work"
img="$work/$case_name.img" iso="$work/$case_name.iso" out="$work/$case_name.out" log="$work/$case_name.log"
rm -f "$img" "$iso"

fail() { echo "FAIL [uefi $case_name]: $*"; echo "--- COM1 (firmware, GRUB, program stdout)"; tail -c 2000 "$out" 2>/dev/null
         echo; echo "--- COM2 (kernel log)"; cat "$log" 2>/dev/null; exit 1; }
ovmf_image >/dev/null || { echo "SKIP: no OVMF (Debian package ovmf)"; exit 77; }
[ -d /usr/lib/grub/x86_64-efi ] || { echo "SKIP: no GRUB EFI (Debian package grub-efi-amd64-bin)"; exit 77; }
mk() { "$root/scripts/mkimage.sh" "$img" "$@" >/dev/null || fail "mkimage.sh failed"; }
mkiso() { "$root/kernel/tools/mkiso.sh" "$kernel" "$iso" "$@" >/dev/null || fail "mkiso.sh failed"; }
expect_started() {
  grep -q "starting $1 .*via multiboot2)" "$log" || fail "the kernel was not loaded through multiboot2"
  echo "uefi: QEMU start to $1's first instruction: $(ms_to_program "$log") ms (OVMF + GRUB EFI, TCG)"
}

case "$case_name" in
  systest)
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest segv"
    mkiso "/systest /state"
    iso_boot uefi "$iso" "$img" "$out" "$log"
    [ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
    grep -q "systest: [0-9]* passed, 0 failed" "$out" || fail "no 'systest: N passed, 0 failed' line"
    expect_started /systest ;;
  threads)
    mk --file "$systest=/systest" --cmdline "/systest threads"
    mkiso
    iso_boot uefi "$iso" "$img" "$out" "$log" -smp 2
    [ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
    grep -q "threads: ok" "$out" || fail "no 'threads: ok' line"
    grep -q "bfk: .* 2 CPU" "$log" || fail "the kernel did not start the second CPU"
    expect_started /systest ;;
  bareflow-stories260k)
    [ -x "$bareflow" ] || fail "no bareflow binary given"
    model="$shared/models/stories260K/stories260K.bin" tok="$shared/models/stories260K/tok512.bin"
    "$bareflow" run -m "$model" -z "$tok" -p "Once upon a time" -n 40 --temp 0 -t 1 --no-state >"$work/linux.out" 2>/dev/null \
      || fail "bareflow failed on Linux"
    mk --file "$bareflow=/bareflow" --file "$model=/models/stories260K.bin" --file "$tok=/models/tok512.bin" \
       --mkdir /state --cmdline "/bareflow run -m /models/stories260K.bin -z /models/tok512.bin -p \"Once upon a time\" -n 40 --temp 0 -t 1"
    mkiso
    iso_boot uefi "$iso" "$img" "$out" "$log"
    [ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
    # COM1 starts with OVMF's and GRUB's messages; the program's stdout is all that follows.
    n=$(stat -c %s "$work/linux.out")
    [ "$n" -gt 0 ] || fail "empty Linux output"
    tail -c "$n" "$out" | cmp -s - "$work/linux.out" || {
      diff <(tail -c "$n" "$out") "$work/linux.out" | head -20; fail "guest stdout differs from Linux"; }
    expect_started /bareflow ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASS [uefi $case_name]"
