#!/usr/bin/env bash
# In-guest power-cut test. Boots the BareFlow kernel under QEMU (TCG) with a
# disk whose boot.cfg runs `statewriter` (tests/statewriter.cpp), which saves a
# state file forever with write-temp / fsync / rename. QEMU is killed (SIGKILL)
# at random moments, many times, on the same disk. After each kill:
#   * fsck.fat -n on the partition reports nothing, or only what a cut may
#     leave: leaked space (the one-write windows documented at the top of
#     kernel/fat16/fat16_internal.h), an over-long chain on the temp file, and the
#     volume's dirty mark. Its verdict is recorded (clean / leak-only). The
#     leaks are NOT fixed on the host: the next boot's mount must repair them;
#   * /state/state.bin is one complete version (statewriter --verify), not older
#     than the last "committed N" the guest printed, at most one newer, and
#     generations never go backwards;
#   * after every 2nd kill, and once at the end, a check boot runs
#     `statewriter --check` (mount + read only): the kernel's mount repairs the
#     dirty volume, the guest sees the same generation, and then `fsck.fat -n`
#     on the partition must exit 0 - power cut + one boot = a clean volume.
#     The other kills are repaired by the next writer boot itself (which is
#     then cut again, possibly during the repair);
#   * the next boot's statewriter finds a consistent state (else it prints
#     CORRUPT, which fails the test).
#
# usage: powercut.sh KERNEL STATEWRITER [SECONDS]   (default 150 s of kills)
# POWERCUT_DISK=nvme|ahci|... puts the disk on that controller (scripts/qemu_disk.sh;
# default virtio).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: powercut.sh KERNEL STATEWRITER [SECONDS]" >&2; exit 2; }
kernel=$1
writer=$2
budget=${3:-150}
root=$(cd "$(dirname "$0")/../../.." && pwd)
for f in "$kernel" "$writer"; do [ -f "$f" ] || { echo "powercut.sh: $f not found" >&2; exit 2; }; done
for t in qemu-system-x86_64 fsck.fat mcopy; do
  command -v "$t" >/dev/null || { echo "powercut.sh: $t not installed" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/powercut.XXXXXX")
qpid=
cleanup() {
  if [ -n "$qpid" ]; then kill -9 "$qpid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

disk=$tmp/disk.img
source "$root/scripts/qemu_disk.sh"
qemu_disk_args "${POWERCUT_DISK:-virtio}" "$disk" || { echo "powercut.sh: unknown POWERCUT_DISK" >&2; exit 2; }
"$root/scripts/mkimage.sh" "$disk" --file "$writer=/statewriter" --mkdir /state --cmdline /statewriter >/dev/null
export MTOOLS_SKIP_CHECK=1
part=$tmp/part.img
# Allowed fsck complaints: leaked clusters, and an over-long chain on the temp
# file while it grows (path line + its two detail lines).
allowed='^(fsck\.fat [0-9.]+ .*|Reclaimed [0-9]+ unused clusters? \([0-9]+ bytes\)\.|Leaving filesystem unchanged\.|Dirty bit is set\. Fs was not properly unmounted and some data may be corrupt\.| Automatically removing dirty bit\.|.*: [0-9]+ files, [0-9]+/[0-9]+ clusters|/[Ss][Tt][Aa][Tt][Ee]/state\.bin\.tmp|  File size is [0-9]+ bytes, cluster chain length is > [0-9]+ bytes\.|  Truncating file to [0-9]+ bytes\.|)$'

fail() {
  echo "powercut.sh: FAIL after $kills kills: $*" >&2
  echo "---- serial (last lines) ----" >&2
  tail -n 20 "$tmp/serial.log" >&2 || true
  exit 1
}

boot_qemu() {   # [KERNEL COMMAND LINE]: replaces boot.cfg's (multiboot cmdline)
  : >"$tmp/serial.log"
  qemu-system-x86_64 -kernel "$kernel" ${1:+-append "$1"} -m 256 -cpu max -display none -no-reboot \
    -serial "file:$tmp/serial.log" "${qemu_disk[@]}" \
    -device isa-debug-exit,iobase=0xf4,iosize=4 &
  qpid=$!
}

# Check boot: mount (repairs a dirty volume) + read the state, nothing else.
# Then the volume must be completely clean for fsck.fat -n, with the same gen.
checks=0 repairs=0
check_boot() {
  boot_qemu "/statewriter --check"
  local i
  for i in $(seq 1200); do
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$qpid" 2>/dev/null; then
    kill -9 "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
    qpid=
    fail "check boot did not finish within 120 s"
  fi
  wait "$qpid" 2>/dev/null || true
  qpid=
  checks=$((checks + 1))
  grep -q "CORRUPT" "$tmp/serial.log" && fail "check boot: statewriter found a torn state"
  local line
  line=$(grep -o '^statewriter: check .*' "$tmp/serial.log" | tail -n 1 || true)
  [ -n "$line" ] || fail "check boot: statewriter --check did not report"
  if [ "$line" = "statewriter: check no state" ]; then
    [ "$last_gen" = 0 ] || fail "check boot: state file vanished (last gen $last_gen)"
  else
    [ "${line#statewriter: check gen }" = "$last_gen" ] || fail "check boot: $line, but the disk had gen $last_gen"
  fi
  grep -q '^fat16: repaired: .*\(reclaimed\|trimmed\)' "$tmp/serial.log" && repairs=$((repairs + 1))
  grep -q '^fat16: not repaired' "$tmp/serial.log" && fail "check boot: $(grep '^fat16:' "$tmp/serial.log")"
  dd if="$disk" of="$part" bs=1M skip=1 status=none
  if ! fsck.fat -n "$part" >"$tmp/fsck.log" 2>&1; then
    fail "fsck.fat -n is not clean after the check boot ($(grep '^fat16:' "$tmp/serial.log" || echo 'no repair line')): $(cat "$tmp/fsck.log")"
  fi
}

# Calibrate: time from QEMU start to the first commit (slow under load/TCG).
boot_qemu
t0=$(date +%s%N)
for _ in $(seq 600); do
  grep -q '^committed' "$tmp/serial.log" && break
  sleep 0.1
done
grep -q '^committed' "$tmp/serial.log" || { kill -9 "$qpid"; fail_early=1; }
t_commit_ms=$((($(date +%s%N) - t0) / 1000000))
kill -9 "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
qpid=
if [ "${fail_early:-0}" = 1 ]; then
  echo "powercut.sh: FAIL: the guest did not commit a state within 60 s" >&2
  tail -n 20 "$tmp/serial.log" >&2
  exit 1
fi
# Kill delays: uniform in [0.3 s, first-commit time + 2.5 s].
max_ms=$((t_commit_ms + 2500))
echo "powercut.sh: first commit after ${t_commit_ms} ms; killing at 300..${max_ms} ms"

kills=0 clean=0 leaky=0 leaked=0 booted=0 boot_repairs=0 last_gen=0 ever_committed=1
start=$(date +%s)
while [ $(($(date +%s) - start)) -lt "$budget" ]; do
  boot_qemu
  delay=$((300 + (RANDOM * 32768 + RANDOM) % (max_ms - 300)))
  sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  kill -9 "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  qpid=
  kills=$((kills + 1))

  grep -q "CORRUPT" "$tmp/serial.log" && fail "statewriter found a torn state at boot"
  grep -q "^statewriter:" "$tmp/serial.log" && booted=$((booted + 1))
  grep -q '^fat16: repaired: .*\(reclaimed\|trimmed\)' "$tmp/serial.log" && boot_repairs=$((boot_repairs + 1))
  grep -q '^fat16: not repaired' "$tmp/serial.log" && fail "$(grep '^fat16:' "$tmp/serial.log")"
  if grep -q "bfk: .*\(cannot\|fail\|panic\|exception\)" "$tmp/serial.log"; then
    fail "kernel reported an error"
  fi
  committed=$(grep -o '^committed [0-9]*' "$tmp/serial.log" | tail -n 1 | cut -d' ' -f2 || true)

  dd if="$disk" of="$part" bs=1M skip=1 status=none
  if fsck.fat -n "$part" >"$tmp/fsck.log" 2>&1; then
    clean=$((clean + 1))
  else
    if grep -vE "$allowed" "$tmp/fsck.log" | grep -q .; then
      fail "fsck.fat -n reports damage: $(cat "$tmp/fsck.log")"
    fi
    leaky=$((leaky + 1))
    grep -q '^Reclaimed\|^  File size' "$tmp/fsck.log" && leaked=$((leaked + 1))
  fi

  if mcopy -o -i "$part" ::/state/state.bin "$tmp/state.bin" 2>/dev/null; then
    v=$("$writer" --verify "$tmp/state.bin") || fail "state file is not one complete version: $v"
    gen=${v#gen }
    [ "$gen" -ge "$last_gen" ] || fail "generation went backwards ($last_gen -> $gen)"
    if [ -n "$committed" ]; then
      [ "$gen" -ge "$committed" ] || fail "gen $gen on disk, but the guest had committed $committed"
      [ "$gen" -le $((committed + 1)) ] || fail "gen $gen on disk, beyond committed $committed + 1"
    fi
    last_gen=$gen
    ever_committed=1
  else
    [ "$ever_committed" = 0 ] && [ -z "$committed" ] || fail "state file vanished"
  fi
  [ $((kills % 2)) = 1 ] && check_boot
done
[ $((kills % 2)) = 1 ] || check_boot
echo "powercut.sh: PASS: $kills kills in ${budget}s ($booted reached statewriter), final gen $last_gen;" \
     "fsck after the kill: clean $clean, dirty/leak-only $leaky (with leaked clusters or an over-long chain: $leaked);" \
     "$checks check boots: fsck.fat -n exit 0 after each ($repairs repaired leaks; writer boots repaired leaks $boot_repairs times)"
[ "$last_gen" -gt 0 ] || fail "no state was ever committed (guest never ran?)"
