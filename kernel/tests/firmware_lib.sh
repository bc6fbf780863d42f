# firmware_lib.sh: boots the kernel the way a PC does, from the GRUB ISO (kernel/tools/mkiso.sh)
# under real firmware, SeaBIOS (BIOS) or OVMF (UEFI), in QEMU with TCG. Sourced by
# uefi_test.sh and boot_time.sh.
#
# The firmware and GRUB write to COM1 too, so the program's stdout (COM1, a file) starts
# with their messages; the kernel's log (COM2) carries each line's time since QEMU started.

# Prints the OVMF image (Debian package ovmf), or fails.
ovmf_image() {
  local f
  for f in /usr/share/ovmf/OVMF.fd /usr/share/qemu/OVMF.fd; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

# Prefixes each line of stdin with "[  1234 ms] ", the time since $1 (date +%s%N).
stamp_lines() {
  local t0=$1 line now
  while IFS= read -r line; do
    now=$(date +%s%N)
    printf '[%6d ms] %s\n' $(((now - t0) / 1000000)) "$line"
  done
}

# iso_boot bios|uefi ISO DISK OUT LOG [qemu args...]: boots ISO with DISK as virtio-blk.
# COM1 -> OUT, COM2 (kernel log, time-stamped) -> LOG. Sets rc: the program's exit status
# (0..127), 124 on timeout, 125 when QEMU ended without the kernel's exit.
iso_boot() {
  local fw=$1 iso=$2 disk=$3 out=$4 log=$5
  shift 5
  local fw_args=(-boot d)
  if [ "$fw" = uefi ]; then
    local ovmf
    ovmf=$(ovmf_image) || { echo "iso_boot: OVMF not found (Debian package ovmf)" >"$log"; rc=125; return; }
    fw_args=(-bios "$ovmf")
  fi
  local t0
  t0=$(date +%s%N)
  timeout -k 5 "${BOOT_TIMEOUT:-240}" qemu-system-x86_64 -nodefaults -display none -no-reboot -m 1024 \
    -accel tcg -cpu max "${fw_args[@]}" -cdrom "$iso" -drive "file=$disk,format=raw,if=virtio" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$out" -serial stdio "$@" \
    </dev/null 2>&1 | stamp_lines "$t0" >"$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then rc=124
  elif [ $((rc & 1)) -eq 1 ]; then rc=$(((rc - 1) / 2))   # isa-debug-exit: (status << 1) | 1
  else rc=125
  fi
}

# Prints the milliseconds from QEMU's start to the kernel's "starting PROGRAM" line in LOG
# (the program's first instruction follows it), or fails.
ms_to_program() {
  grep -m1 'bfk: .*starting /' "$1" | sed -n 's/^\[ *\([0-9]*\) ms\].*/\1/p' | grep .
}
