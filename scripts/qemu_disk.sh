# shellcheck shell=bash disable=SC2034,SC2054  # sets variables for the sourcing script; QEMU options use commas
# qemu_disk.sh: sourced by scripts/boot.sh and the kernel's tests; the one list of the disk
# controllers the BareFlow kernel probes for.
#
# qemu_disk_args KIND FILE sets the array qemu_disk to QEMU's arguments attaching the raw
# image FILE (any -drive file= spec, e.g. blkdebug:CFG:IMG) to one controller:
#   virtio  virtio-blk            nvme    NVMe, 512-byte blocks
#   nvme4k  NVMe, 4 KiB blocks    ahci    ICH9 AHCI (SATA), port 0
#   ide     the primary IDE channel (ATA PIO)
# Returns 1 for an unknown KIND.
qemu_disk_kinds="virtio nvme nvme4k ahci ide"
qemu_disk_args() {
  local drive="file=$2,format=raw"
  case "$1" in
    virtio) qemu_disk=(-drive "$drive,if=virtio") ;;
    nvme) qemu_disk=(-drive "$drive,if=none,id=d0" -device nvme,serial=bf0,drive=d0) ;;
    nvme4k) qemu_disk=(-drive "$drive,if=none,id=d0"
                       -device nvme,serial=bf0,drive=d0,logical_block_size=4096,physical_block_size=4096) ;;
    ahci) qemu_disk=(-drive "$drive,if=none,id=d0" -device ich9-ahci,id=ahci -device ide-hd,drive=d0,bus=ahci.0) ;;
    ide) qemu_disk=(-drive "$drive,if=ide") ;;
    *) return 1 ;;
  esac
}
