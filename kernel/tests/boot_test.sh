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
source "$root/scripts/qemu_disk.sh"
part_off=$((2048 * 512))   # mkimage.sh puts the FAT16 partition at LBA 2048
mkdir -p "$work"
img="$work/$case_name.img" out="$work/$case_name.out" err="$work/$case_name.err"
# Per case: CTest runs cases side by side in the same work directory.
linux_out="$work/$case_name.linux.out"
rm -f "$img"

fail() { echo "FAIL [$case_name]: $*"; echo "--- stdout"; cat "$out" 2>/dev/null; echo "--- stderr"; cat "$err" 2>/dev/null; exit 1; }
mk() { "$mkimage" "$img" "$@" >/dev/null || fail "mkimage.sh failed"; }
run() { "$boot" "$img" --kernel "$kernel" --timeout "${BOOT_TIMEOUT:-240}" "$@" >"$out" 2>"$err"; rc=$?; }
expect_rc() { [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"; }
expect_line() { grep -q -- "$1" "$2" || fail "no line matching '$1'"; }
# The kernel's "bfk: disk:" line names the driver that QEMU's controller (boot.sh --disk) needs.
expect_disk() {
  local name
  case "$1" in virtio) name=virtio-blk ;; nvme|nvme4k) name=nvme ;; ahci) name=ahci ;; ide) name=ata ;; esac
  expect_line "bfk: disk: $name " "$err"
}
# fsck.fat on a copy of the image's FAT16 partition: the volume is consistent.
expect_clean_fat() {
  dd if="$img" of="$work/$case_name.part" bs=512 skip=2048 status=none
  fsck.fat -n "$work/$case_name.part" >"$work/$case_name.fsck" 2>&1 || { cat "$work/$case_name.fsck"; fail "fsck.fat: $1"; }
}
# QEMU without boot.sh (other disk buses, no disk); TCG; QEMU's status is (status << 1) | 1.
qemu_tcg() {
  timeout -k 5 "${BOOT_TIMEOUT:-240}" qemu-system-x86_64 -nodefaults -display none -no-reboot -m 1024 \
    -accel tcg -cpu max -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial stdio "$@" </dev/null >"$out" 2>"$err"
  rc=$?; [ $((rc & 1)) -eq 1 ] && rc=$(((rc - 1) / 2))
}

# The stories260K run with T threads: Linux's stdout in $linux_out, the guest's image.
stories_image() {
  local t=$1 model="$shared/models/stories260K/stories260K.bin" tok="$shared/models/stories260K/tok512.bin"
  "$bareflow" run -m "$model" -z "$tok" -p "Once upon a time" -n 40 --temp 0 -t "$t" --no-state >"$linux_out" 2>/dev/null ||
    fail "bareflow failed on Linux"
  mk --file "$bareflow=/bareflow" --file "$model=/models/stories260K.bin" --file "$tok=/models/tok512.bin" \
     --mkdir /state --cmdline "/bareflow run -m /models/stories260K.bin -z /models/tok512.bin -p \"Once upon a time\" -n 40 --temp 0 -t $t"
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
    expect_rc 0; expect_line "systest: [0-9]* passed, 0 failed" "$out"; expect_line "bfk: disk: ata " "$out" ;;
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
  disks-persist)
    # Boot 1 writes /state/persist.txt (write, fsync, rename) over one controller, the host
    # reads it with mtools, boot 2 reads it over another: every driver's writes and flushes
    # reach the image.
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest persist-read /state"
    for pair in nvme:ahci ahci:nvme4k nvme4k:ide ide:nvme; do
      w=${pair%:*} r=${pair#*:}
      mdel -i "$img@@$part_off" ::/state/persist.txt 2>/dev/null
      run --disk "$w" --cmdline "/systest persist-write /state"; expect_rc 0; expect_disk "$w"; expect_line "persist: wrote" "$out"
      [ "$(mtype -i "$img@@$part_off" ::/state/persist.txt)" = boot-1-was-here ] || fail "the host does not read what the guest wrote over $w"
      expect_clean_fat "after writing over $w"
      run --disk "$r"; expect_rc 0; expect_disk "$r"; expect_line "persist: read back /state/persist.txt: ok" "$out"
    done ;;
  disks-io-error)
    # Every disk read fails (QEMU's blkdebug): the NVMe and AHCI drivers log the failed
    # command and return -EIO, and the boot fails cleanly instead of hanging or crashing.
    mk --file "$systest=/systest" --cmdline "/systest"
    printf '[inject-error]\nevent = "read_aio"\nerrno = "5"\n' >"$work/eio.cfg"
    qemu_disk_args nvme "blkdebug:$work/eio.cfg:$img"
    qemu_tcg -kernel "$kernel" "${qemu_disk[@]}"
    expect_rc 126; expect_line "bfk: nvme: read of 1 blocks at block 0 failed" "$out"; expect_line "boot failed: the disk has no usable FAT16" "$out"
    qemu_disk_args ahci "blkdebug:$work/eio.cfg:$img"
    qemu_tcg -kernel "$kernel" "${qemu_disk[@]}"
    expect_rc 126; expect_line "bfk: ahci: command 0x25 (1 sectors at 0) failed" "$out"; expect_line "boot failed: the disk has no usable FAT16" "$out" ;;
  disks-q35)
    # A PCIe machine (q35, SeaBIOS numbers the buses): an NVMe disk behind a root port is
    # found through the bridge, and the chipset's own AHCI controller (00:1f.2) works.
    mk --file "$systest=/systest" --mkdir /state --cmdline "/systest /state"
    qemu_tcg -M q35 -kernel "$kernel" -device pcie-root-port,id=rp1,chassis=1,slot=1 \
      -drive "file=$img,format=raw,if=none,id=d0" -device nvme,serial=bf0,drive=d0,bus=rp1
    expect_rc 0; expect_line "systest: [0-9]* passed, 0 failed" "$out"; expect_line "bfk: disk: nvme 0000:01:00.0" "$out"
    qemu_tcg -M q35 -kernel "$kernel" -drive "file=$img,format=raw,if=none,id=d0" -device ide-hd,drive=d0,bus=ide.2
    expect_rc 0; expect_line "systest: [0-9]* passed, 0 failed" "$out"; expect_line "bfk: disk: ahci 0000:00:1f.2" "$out" ;;
  disks-timeout)
    # The disk never answers within the drivers' 10 s (QEMU's null-co driver with 30 s of
    # latency: margin for a TSC rate TCG under load makes noisy): each driver gives up, logs
    # it and returns -EIO; the boot fails, no hang. The three boots run at once (QEMU waits
    # out the request before it exits).
    null="null-co://,file.latency-ns=30000000000,file.read-zeroes=on,file.size=64M"
    for d in nvme ahci virtio; do
      qemu_disk_args "$d" "$null"
      (out=$work/timeout-$d.out err=$work/timeout-$d.err; qemu_tcg -kernel "$kernel" "${qemu_disk[@]}"; echo "$rc" >"$work/timeout-$d.rc") &
    done
    wait
    for d in nvme:"bfk: nvme: command 0x2 got no completion" ahci:"bfk: ahci: command 0x25 (1 sectors at 0) timed out" \
             virtio:"bfk: virtio-blk: request type 0 at sector 0 got no answer"; do
      out=$work/timeout-${d%%:*}.out err=$work/timeout-${d%%:*}.err rc=$(cat "$work/timeout-${d%%:*}.rc")
      expect_rc 126; expect_line "${d#*:}" "$out"; expect_line "boot failed: the disk has no usable FAT16" "$out"
    done ;;
  disks-bulk)
    # A 17 MB file read by mmap (DMA straight into the program's frames) and by read()
    # (bounced), and written to /state XORed with a key that differs per boot: the guest's
    # hashes equal Linux's, and the copy the host reads back equals Linux's copy.
    # Throughput (under TCG or KVM) on stderr.
    head -c 17000000 /dev/urandom >"$work/big.bin"
    mk --file "$systest=/systest" --file "$work/big.bin=/big.bin" --mkdir /state --cmdline "/systest hash /big.bin"
    key=0
    for d in virtio nvme nvme4k ahci; do
      key=$((key + 1))
      (cd "$work" && "$systest" hash big.bin big.want $key) 2>/dev/null | sed 's|^hash: big.bin|hash: /big.bin|' >"$work/big.linux" ||
        fail "systest hash failed on Linux"
      run --disk "$d" --cmdline "/systest hash /big.bin /state/copy.bin $key"; expect_rc 0; expect_disk "$d"
      cmp -s "$work/big.linux" "$out" || { diff "$work/big.linux" "$out"; fail "hashes over $d differ from Linux"; }
      mcopy -o -i "$img@@$part_off" ::/state/copy.bin "$work/big.copy" || fail "mcopy"
      cmp -s "$work/big.want" "$work/big.copy" || fail "the copy written over $d differs from Linux's"
      expect_clean_fat "after writing over $d"
      echo "$d: $(grep -h 'hash: /big.bin:' "$err")"
    done
    rm -f "$work/big.bin" "$work/big.want" "$work/big.copy" ;;
  bareflow-disks)
    # One image booted from every controller: the guest's stdout equals Linux's each time.
    stories_image 1
    for d in $qemu_disk_kinds; do
      run --disk "$d"; expect_rc 0; expect_disk "$d"
      cmp -s "$linux_out" "$out" || { diff "$linux_out" "$out" | head -20; fail "guest stdout over $d differs from Linux"; }
    done ;;
  bareflow-missing-model)
    mk --file "$bareflow=/bareflow" --cmdline "/bareflow run -m /models/missing.bin -p hi -n 4"
    run; [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] || fail "exit status $rc, expected the program's own error status" ;;
  bareflow-tuned-snapshot)
    # Boot 1 tunes (small tiers) and saves its snapshot in /state; boot 2 starts from it:
    # every shape class installed before the first token, no tuning, and both boots print
    # what Linux prints.
    model="$shared/models/stories260K/stories260K.bin" tok="$shared/models/stories260K/tok512.bin"
    "$bareflow" run -m "$model" -z "$tok" -p "Once upon a time" -n 40 --temp 0 -t 1 --no-state >"$linux_out" 2>/dev/null ||
      fail "bareflow failed on Linux"
    mk --file "$bareflow=/bareflow" --file "$model=/models/stories260K.bin" --file "$tok=/models/tok512.bin" --mkdir /state \
       --cmdline "/bareflow run -m /models/stories260K.bin -z /models/tok512.bin -p \"Once upon a time\" -n 40 --temp 0 -t 1 --tiers 1,2,30 -v --state /state"
    run; expect_rc 0
    cmp -s "$linux_out" "$out" || { diff "$linux_out" "$out" | head -20; fail "boot 1 stdout differs from Linux"; }
    expect_line "tier 3 settled on" "$err"; expect_line "tuning: *converged after" "$err"
    mdir -b -i "$img@@$part_off" ::/state | grep -q '\.bfsnap$' || fail "boot 1 left no snapshot in /state"
    run; expect_rc 0
    cmp -s "$linux_out" "$out" || { diff "$linux_out" "$out" | head -20; fail "boot 2 stdout differs from Linux"; }
    expect_line "from the snapshot: " "$err"; expect_line "every shape class from the snapshot (no tuning)" "$err"
    # Token-step classes only: prompt classes count prompt chunks and had one chunk in boot
    # 1, so they go on racing generated GEMMs in boot 2 (as documented).
    grep -q "n1: tier 1 generated\|n1: tier 2 tuning" "$err" && fail "boot 2 tuned token steps again"
    # A Q4_0 model: boot 1 generates and races kernels in the guest (W^X pages, no spare
    # thread: one job per token), boot 2 installs the snapshot's choices (and the machine
    # code of any generated kernel that won, checked against the reference on its first call).
    "$bareflow" mkmodel -o "$work/q4.gguf" --dim 128 --hidden-dim 256 --layers 2 --heads 4 --seq-len 128 \
      --type q4_0 --vocab "$tok" >/dev/null || fail "mkmodel failed"
    mk --file "$bareflow=/bareflow" --file "$work/q4.gguf=/models/q4.gguf" --mkdir /state \
       --cmdline "/bareflow run -m /models/q4.gguf -p \"Once upon a time\" -n 60 --temp 0 -t 1 --tiers 1,2,30 -v --state /state"
    run; expect_rc 0; expect_line "generated matmul.q4_0.avx2" "$err"; expect_line "tuning: *converged after" "$err"
    run; expect_rc 0; expect_line "from the snapshot: matmul" "$err"
    expect_line "every shape class from the snapshot (no tuning)" "$err"
    grep -q "differs from the reference" "$err" && fail "loaded code failed its check"
    rm -f "$work/q4.gguf" ;;
  bareflow-stories260k|bareflow-stories260k-t2)
    t=1 smp=1; [ "$case_name" = bareflow-stories260k-t2 ] && t=2 smp=2
    stories_image $t
    run --smp $smp; expect_rc 0
    cmp -s "$linux_out" "$out" || { diff "$linux_out" "$out" | head -20; fail "guest stdout differs from Linux"; } ;;
  bareflow-stories110m-256m|bareflow-tinyllama-1g)
    # Random-weight models of real shapes in small guests: the model file is mapped by DMA
    # (2 MiB pages), its pages are dropped after repacking (MADV_DONTNEED frees them), and
    # the text equals Linux's. stories110M Q8_0 (117 MB) in 256 MB; TinyLlama Q4_0 (620 MB)
    # in 1 GB (~30 s under TCG). --smp 2: the tuner's thread needs a CPU of its own.
    if [ "$case_name" = bareflow-stories110m-256m ]; then preset=stories110M type=q8_0 mem=256
    else preset=tinyllama type=q4_0 mem=1024; fi
    model="$work/$preset-$type.gguf"
    [ -f "$model" ] || "$bareflow" mkmodel --preset "$preset" --type "$type" -o "$model" >/dev/null || fail "mkmodel failed"
    args="-p \"Once upon a time\" --temp 0 -n 8 --no-state -t 1"
    eval "\"\$bareflow\" run -m \"\$model\" $args" >"$work/$case_name.linux" 2>/dev/null || fail "bareflow failed on Linux"
    mk --file "$bareflow=/bareflow" --file "$model=/models/m.gguf" --cmdline "/bareflow run -m /models/m.gguf $args"
    run --smp 2 --mem $mem; expect_rc 0
    expect_line "bfk: mapped /models/m.gguf: [0-9]* MB in" "$err"
    grep "bfk: mapped" "$err"
    cmp -s "$work/$case_name.linux" "$out" || { diff "$work/$case_name.linux" "$out" | head -20; fail "guest stdout differs from Linux"; }
    rm -f "$img" ;;   # up to 640 MB; the model stays for the next run
  *) echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASS [$case_name]"
