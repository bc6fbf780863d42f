#!/usr/bin/env bash
# Boots a BareFlow disk image in QEMU with the BareFlow kernel and returns the guest
# program's exit status.
#
# usage: scripts/boot.sh IMAGE [--smp N] [--timeout S] [--mem MiB] [--kernel FILE] [--accel kvm|tcg]
#                         [--cmdline "/prog args"] [--disk virtio|nvme|nvme4k|ahci|ide]
#
#   --disk chooses the controller QEMU attaches the image to (default virtio; nvme4k is NVMe
#   with 4 KiB logical blocks); the kernel finds it by probing.
#   --cmdline replaces boot.cfg's command line for this boot (passed with -append).
#   The program's stdout (COM1) goes to stdout; its stderr and the kernel's messages
#   (COM2) go to stderr. KVM is used when /dev/kvm actually works (probed by booting the
#   kernel once), else TCG with -cpu max. Override with --accel or BAREFLOW_ACCEL.
#   Exit status: the program's status (0..127; larger ones read as 127); 122 the program
#   was killed by a signal (abort); 123 it crashed (CPU exception); 124 timeout; 125 kernel
#   panic or guest reset; 126 boot failure (no disk, bad boot.cfg, program missing or
#   not loadable); 2 usage errors.
set -uo pipefail

die() { echo "boot.sh: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: boot.sh IMAGE [--smp N] [--timeout S] [--mem MiB] [--kernel FILE] [--accel kvm|tcg] [--cmdline \"/prog args\"] [--disk virtio|nvme|nvme4k|ahci|ide]"
image=$1; shift
smp=1 timeout_s=600 mem=1024 kernel=${BAREFLOW_KERNEL_ELF:-} accel=${BAREFLOW_ACCEL:-} cmdline= disk=virtio
while [ $# -gt 0 ]; do
  case "$1" in
    --smp) smp=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --cmdline) cmdline=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[ -f "$image" ] || die "no such image: $image"
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/qemu_disk.sh"
qemu_disk_args "$disk" "$image" || die "--disk must be one of: $qemu_disk_kinds"
if [ -z "$kernel" ]; then
  for k in "$here/build-kernel/bareflow-kernel" "$here/build/kernel/bareflow-kernel"; do
    [ -f "$k" ] && { kernel=$k; break; }
  done
fi
[ -n "$kernel" ] && [ -f "$kernel" ] || die "kernel not found; build bareflow-kernel or pass --kernel FILE"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (Debian package qemu-system-x86)"

# qboot (a minimal firmware shipped with QEMU) reaches the kernel in well under a second;
# SeaBIOS takes ~11 s under kvm-pvm, where real-mode firmware code is emulated.
bios=()
for f in /usr/share/qemu/qboot.rom /usr/share/seabios/qboot.rom; do
  [ -f "$f" ] && { bios=(-bios "$f"); break; }
done
common=(-nodefaults -display none -no-reboot -m "$mem" -smp "$smp" -kernel "$kernel" "${bios[@]}"
        -device isa-debug-exit,iobase=0xf4,iosize=0x04)
kvm_cpu=(-enable-kvm -cpu host,-arch-capabilities)   # kvm-pvm rejects MSR 0x10a otherwise

# KVM works if booting the kernel with no disk reaches its "no disk" exit (126 -> 253).
kvm_usable() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
  timeout 30 qemu-system-x86_64 "${common[@]}" "${kvm_cpu[@]}" -serial null >/dev/null 2>&1
  [ $? -eq 253 ]
}
case "$accel" in
  kvm) accel_args=("${kvm_cpu[@]}") ;;
  tcg) accel_args=(-accel tcg -cpu max) ;;
  "") if kvm_usable; then accel_args=("${kvm_cpu[@]}"); else accel_args=(-accel tcg -cpu max); fi ;;
  *) die "--accel must be kvm or tcg" ;;
esac
name=tcg; [ "${accel_args[0]}" = -enable-kvm ] && name=kvm
echo "boot.sh: accel=$name smp=$smp mem=${mem}M disk=$disk image=$image" >&2

# The program's stdin is boot.sh's stdin when that is a terminal (interactive use), else empty.
stdin_src=/dev/null
[ -t 0 ] && stdin_src=/dev/stdin
timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 "${common[@]}" "${accel_args[@]}" \
  "${qemu_disk[@]}" ${cmdline:+-append "$cmdline"} \
  -serial stdio -chardev file,id=com2,path=/dev/stderr,append=on -serial chardev:com2 <"$stdin_src"
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
  echo "boot.sh: timeout: the guest did not finish within ${timeout_s}s" >&2
  exit 124
fi
if [ $((rc & 1)) -eq 1 ]; then exit $(((rc - 1) / 2)); fi
echo "boot.sh: QEMU exited with status $rc without the kernel's exit (guest reset or QEMU error)" >&2
exit 125
