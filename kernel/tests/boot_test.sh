#!/usr/bin/env bash
# Boot tests for the BareFlow kernel (run by CTest, see kernel/CMakeLists.txt).
# usage: boot_test.sh CASE WORKDIR KERNEL SYSTEST [BAREFLOW SHARED]
# Each case builds a disk with scripts/mkimage.sh, boots it with scripts/boot.sh and
# checks the exit status and the one-line message on serial. Nothing can hang: boot.sh
# has its own timeout, and CTest another.
set -uo pipefail
case_name=$1 work=$2 kernel=$3 systest=$4 bareflow=${5:-} shared=${6:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkimage="$root/scripts/mkimage.sh" boot="$root/scripts/boot.sh"
part_off=$((2048 * 512))   # mkimage.sh puts the FAT16 partition at LBA 2048
mkdir -p "$work"
img="$work/$case_name.img" out="$work/$case_name.out" err="$work/$case_name.err"
rm -f "$img"

fail() { echo "FAIL [$case_name]: $*"; echo "--- stdout"; cat "$out" 2>/dev/null; echo "--- stderr"; cat "$err" 2>/dev/null; exit 1; }
mk() { "$mkimage" "$img" "$@" >/dev/null || fail "mkimage.sh failed"; }
run() { "$boot" "$img" --kernel "$kernel" --timeout "${BOOT_TIMEOUT:-240}" "$@" >"$out" 2>"$err"; rc=$?; }
expect_rc() { [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"; }
expect_line() { grep -q -- "$1" "$2" || fail "no line matching '$1'"; }
# QEMU without boot.sh (other disk buses, no disk); TCG; QEMU's status is (status << 1) | 1.
qemu_tcg() {
  timeout -k 5 "${BOOT_TIMEOUT:-240}" qemu-system-x86_64 -nodefaults -display none -no-reboot -m 1024 \
    -accel tcg -cpu max -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio "$@" </dev/null >"$out" 2>"$err"
  rc=$?; [ $((rc & 1)) -eq 1 ] && rc=$(((rc - 1) / 2))
}

case "$case_name" in
  systest)
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest /state"
    run; expect_rc 0; expect_line "systest: [0-9]* passed, 0 failed" "$out" ;;
  no-binary)
    mk --file "$systest=/systest" --cmdline "/systest"
    mdel -i "$img@@$part_off" ::/systest || fail "mdel"
    run; expect_rc 126; expect_line "boot failed: cannot run /systest" "$err" ;;
  not-elf)
    echo "just text" > "$work/text.txt"
    mk --file "$work/text.txt=/prog" --cmdline "/prog"
    run; expect_rc 126; expect_line "boot failed: cannot run /prog: not an x86-64 ELF" "$err" ;;
  bad-bootcfg)
    mk --file "$systest=/systest" --cmdline "/systest"
    printf 'this is not a command line\n' > "$work/bad.cfg"
    mcopy -o -i "$img@@$part_off" "$work/bad.cfg" ::/boot.cfg || fail "mcopy"
    run; expect_rc 126; expect_line "boot failed: bad /boot.cfg" "$err" ;;
  no-bootcfg)
    mk --file "$systest=/systest" --cmdline "/systest"
    mdel -i "$img@@$part_off" ::/boot.cfg || fail "mdel"
    run; expect_rc 126; expect_line "boot failed: /boot.cfg not found" "$err" ;;
  corrupt-fat)
    mk --file "$systest=/systest" --cmdline "/systest"
    printf '\x00\x00\x00\x00\x00\x00' | dd of="$img" bs=1 seek=$((part_off + 11)) conv=notrunc status=none
    run; expect_rc 126; expect_line "cannot mount the FAT16 volume" "$err" ;;
  segfault)
    mk --file "$systest=/systest" --cmdline "/systest segv"
    run; expect_rc 123; expect_line "program crashed: page fault" "$err" ;;
  threads)
    mk --file "$systest=/systest" --cmdline "/systest threads"
    run --smp 2; expect_rc 0; expect_line "threads: ok" "$out" ;;
  persist)
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest persist-write /state"
    run; expect_rc 0; expect_line "persist: wrote" "$out"
    printf '/systest persist-read /state\n' > "$work/read.cfg"
    mcopy -o -i "$img@@$part_off" "$work/read.cfg" ::/boot.cfg || fail "mcopy"
    run; expect_rc 0; expect_line "persist: read back /state/persist.txt: ok" "$out"
    fsck.fat -n "$img@@" >/dev/null 2>&1 || true ;;
  cmdline-override)
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest segv"
    run --cmdline "/systest persist-write /state"; expect_rc 0; expect_line "persist: wrote" "$out" ;;
  ata)
    # No virtio-blk: the kernel falls back to ATA PIO (the disk on QEMU's IDE channel).
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest /state"
    qemu_tcg -kernel "$kernel" -drive "file=$img,format=raw,if=ide"
    expect_rc 0; expect_line "systest: [0-9]* passed, 0 failed" "$out"; expect_line "using the ATA disk" "$out" ;;
  no-1g-pages)
    # A CPU without 1 GiB pages: boot.S maps [0, 4 GiB) with 2 MiB pages instead.
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest /state"
    qemu_tcg -kernel "$kernel" -cpu max,pdpe1gb=off -drive "file=$img,format=raw,if=virtio"
    expect_rc 0; expect_line "systest: [0-9]* passed, 0 failed" "$out" ;;
  no-disk)
    qemu_tcg -kernel "$kernel"
    expect_rc 126; expect_line "boot failed: no disk" "$out" ;;
  grub-iso)
    # PCs: GRUB (BIOS, from an ISO) loads the kernel through multiboot; the disk is the same.
    command -v grub-mkrescue >/dev/null && command -v xorriso >/dev/null || { echo "SKIP: no grub-mkrescue/xorriso"; exit 0; }
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest /state"
    "$root/kernel/tools/mkiso.sh" "$kernel" "$work/bfk.iso" >/dev/null || fail "mkiso.sh failed"
    timeout -k 5 "${BOOT_TIMEOUT:-240}" qemu-system-x86_64 -nodefaults -display none -no-reboot -m 1024 -accel tcg \
      -cpu max -boot d -cdrom "$work/bfk.iso" -drive "file=$img,format=raw,if=virtio" \
      -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio </dev/null >"$out" 2>"$err"
    rc=$?; [ "$rc" -eq 1 ] || fail "QEMU exit status $rc, expected 1 (program status 0)"
    expect_line "systest: [0-9]* passed, 0 failed" "$out" ;;
  bareflow-missing-model)
    mk --file "$bareflow=/bareflow" --cmdline "/bareflow run -m /models/missing.bin -p hi -n 4"
    run; [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] || fail "exit status $rc, expected the program's own error status" ;;
  bareflow-stories260k|bareflow-stories260k-t2)
    t=1 smp=1; [ "$case_name" = bareflow-stories260k-t2 ] && t=2 smp=2
    model="$shared/models/stories260K/stories260K.bin" tok="$shared/models/stories260K/tok512.bin"
    args=(run -m "$model" -z "$tok" -p "Once upon a time" -n 40 --temp 0 -t $t)
    "$bareflow" "${args[@]}" >"$work/linux.out" 2>/dev/null || fail "bareflow failed on Linux"
    mk --file "$bareflow=/bareflow" --file "$model=/models/stories260K.bin" --file "$tok=/models/tok512.bin" \
       --mkdir /state --cmdline "/bareflow run -m /models/stories260K.bin -z /models/tok512.bin -p \"Once upon a time\" -n 40 --temp 0 -t $t"
    run --smp $smp; expect_rc 0
    cmp -s "$work/linux.out" "$out" || { diff "$work/linux.out" "$out" | head -20; fail "guest stdout differs from Linux"; } ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASS [$case_name]"
