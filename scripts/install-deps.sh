#!/usr/bin/env bash
# Installs every Debian package BareFlow needs to build, test, fuzz and boot.
# The README and .ci/run both call this script, so the list lives in one place.
set -euo pipefail
packages=(
  # engine build
  g++ cmake ninja-build make pkg-config
  libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libxbyak-dev
  # sanitizers and fuzzing
  clang libclang-rt-14-dev
  # kernel boot, disk images
  qemu-system-x86 mtools dosfstools grub-pc-bin grub-common xorriso
  # UEFI boot image (GRUB EFI + multiboot2) and its test firmware
  grub-efi-amd64-bin ovmf
  # misc tooling used by tests
  python3 xxd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
