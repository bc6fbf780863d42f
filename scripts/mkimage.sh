#!/usr/bin/env bash
# Builds a BareFlow boot disk: an MBR disk with one FAT16 partition (type 0x06,
# starting at LBA 2048), made with dosfstools + mtools, without root or loop
# devices.
#
# usage: scripts/mkimage.sh OUT.img [--size MiB] [--file SRC=/DEST]... [--mkdir /DIR]...
#                           --cmdline "/bareflow run -m /models/x.bin ..."
#
#   --file SRC=/DEST  copy the host file SRC to /DEST on the disk (parent
#                     directories are created). Repeatable.
#   --mkdir /DIR      create an (empty) directory, e.g. /state. Repeatable.
#   --cmdline LINE    written as /boot.cfg: ONE line, the absolute path of the
#                     program on the disk followed by its arguments. The kernel
#                     runs exactly this (see docs/KERNEL.md for the format).
#   --size MiB        disk size; default: the files + 32 MiB (at least 34 MiB).
#
# The file system has ONE FAT (mkfs.fat -f 1): with two FATs every allocation
# passes through a state where the copies differ, which fsck.fat reports; with
# one FAT, a power cut during BareFlow's write-temp/fsync/rename leaves at most
# leaked clusters (see kernel/fat16/fat16_internal.h).
set -euo pipefail

die() { echo "mkimage.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: mkimage.sh OUT.img [--size MiB] [--file SRC=/DEST]... [--mkdir /DIR]... --cmdline \"/prog args\""
out=$1
shift
case "$out" in -*) die "first argument must be the output image, got '$out'";; esac

size_mib=
files=()
dirs=()
cmdline=
have_cmdline=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) [ $# -ge 2 ] || die "--size needs a value"; size_mib=$2; shift 2 ;;
    --size=*) size_mib=${1#--size=}; shift ;;
    --file) [ $# -ge 2 ] || die "--file needs SRC=/DEST"; files+=("$2"); shift 2 ;;
    --file=*) files+=("${1#--file=}"); shift ;;
    --mkdir) [ $# -ge 2 ] || die "--mkdir needs a directory"; dirs+=("$2"); shift 2 ;;
    --mkdir=*) dirs+=("${1#--mkdir=}"); shift ;;
    --cmdline) [ $# -ge 2 ] || die "--cmdline needs a value"; cmdline=$2; have_cmdline=1; shift 2 ;;
    --cmdline=*) cmdline=${1#--cmdline=}; have_cmdline=1; shift ;;
    *) die "unknown argument '$1'" ;;
  esac
done

for tool in mkfs.fat mcopy mmd fsck.fat dd stat; do
  command -v "$tool" >/dev/null || die "'$tool' not found (install the Debian packages dosfstools and mtools)"
done

# ---- validate inputs -------------------------------------------------------
[ "$have_cmdline" = 1 ] || die "--cmdline is required (the program to run, e.g. --cmdline \"/bareflow run -m /models/x.bin\")"
case "$cmdline" in
  /*) ;;
  *) die "--cmdline must start with the absolute path of the program on the disk, got '$cmdline'" ;;
esac
case "$cmdline" in *$'\n'*|*$'\r'*) die "--cmdline must be a single line" ;; esac
prog=${cmdline%% *}

total_bytes=0
dests=()
srcs=()
for spec in "${files[@]+"${files[@]}"}"; do
  case "$spec" in *=*) ;; *) die "--file expects SRC=/DEST, got '$spec'" ;; esac
  src=${spec%%=*}
  dest=${spec#*=}
  [ -n "$src" ] || die "--file '$spec': empty source path"
  [ -e "$src" ] || die "--file '$spec': source '$src' does not exist"
  [ -f "$src" ] || die "--file '$spec': source '$src' is not a regular file"
  [ -r "$src" ] || die "--file '$spec': source '$src' is not readable"
  case "$dest" in /*) ;; *) die "--file '$spec': destination must be absolute (start with /)" ;; esac
  case "$dest" in */) die "--file '$spec': destination must name a file, not a directory" ;; esac
  [ "$dest" != "/boot.cfg" ] || die "--file '$spec': /boot.cfg is written from --cmdline"
  total_bytes=$((total_bytes + $(stat -c %s "$src")))
  srcs+=("$src")
  dests+=("$dest")
done
for d in "${dirs[@]+"${dirs[@]}"}"; do
  case "$d" in /*) ;; *) die "--mkdir '$d': must be absolute (start with /)" ;; esac
done
found_prog=0
for d in "${dests[@]+"${dests[@]}"}"; do [ "${d,,}" = "${prog,,}" ] && found_prog=1; done
[ $found_prog = 1 ] || die "the program '$prog' named by --cmdline is not among the --file destinations"

# ---- size ------------------------------------------------------------------
mib=$((1024 * 1024))
if [ -z "$size_mib" ]; then
  # files + FAT/cluster slack (1/64) + 32 MiB, rounded up
  size_mib=$(( (total_bytes + total_bytes / 64 + mib - 1) / mib + 32 ))
  [ "$size_mib" -ge 34 ] || size_mib=34
fi
[[ "$size_mib" =~ ^[0-9]+$ ]] || die "--size must be a whole number of MiB, got '$size_mib'"
[ "$size_mib" -ge 4 ] || die "--size $size_mib MiB is too small (FAT16 needs at least 4 MiB)"
[ "$size_mib" -le 2000 ] || die "--size $size_mib MiB is too big for FAT16 (at most 2000 MiB)"
need_mib=$(( (total_bytes + mib - 1) / mib + 2 ))
[ "$size_mib" -ge "$need_mib" ] || die "--size $size_mib MiB cannot hold the files ($total_bytes bytes)"

part_start=2048                                    # sectors (1 MiB aligned)
disk_sectors=$((size_mib * 2048))
part_sectors=$((disk_sectors - part_start))

# ---- build the partition in a temporary file, then splice ------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
part=$tmp/part.img
# Sectors per cluster: the biggest cluster up to 32 KiB (FAT16's standard limit) that
# still leaves FAT16's minimum of 4085 clusters (with a margin). Big clusters make long
# contiguous runs (one disk request each when the kernel loads a file) and a small
# FAT; from 8 sectors (4 KiB) up, mkfs.fat aligns the data area to a cluster, so the
# kernel's DMA also goes straight to 4 KiB-block NVMe disks. Tiny disks (< 17 MiB)
# fall back to smaller clusters. At most 2000 MiB / 32 KiB = 64000 clusters (< 65525).
spc=64
while [ "$spc" -gt 1 ] && [ $((part_sectors / spc)) -lt 4200 ]; do spc=$((spc / 2)); done
mkfs.fat -F 16 -f 1 -s "$spc" -n BAREFLOW -h "$part_start" -C "$part" $((part_sectors / 2)) >"$tmp/mkfs.log" 2>&1 ||
  die "mkfs.fat failed: $(cat "$tmp/mkfs.log")"

export MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0
made_dirs="|/|"
mk_dir() {  # creates $1 and its parents once
  local path=$1 sofar= comp
  local IFS=/
  for comp in $path; do
    [ -n "$comp" ] || continue
    sofar="$sofar/$comp"
    case "$made_dirs" in *"|${sofar,,}|"*) continue ;; esac
    mmd -i "$part" "::$sofar" >"$tmp/mmd.log" 2>&1 || die "cannot create directory $sofar: $(cat "$tmp/mmd.log")"
    made_dirs="$made_dirs${sofar,,}|"
  done
}
for d in "${dirs[@]+"${dirs[@]}"}"; do mk_dir "$d"; done
for i in "${!srcs[@]}"; do
  dest=${dests[$i]}
  parent=${dest%/*}
  [ -z "$parent" ] || mk_dir "$parent"
  mcopy -o -i "$part" "${srcs[$i]}" "::$dest" >"$tmp/mcopy.log" 2>&1 ||
    die "cannot copy ${srcs[$i]} to $dest: $(cat "$tmp/mcopy.log")"
done
printf '%s\n' "$cmdline" >"$tmp/boot.cfg"
mcopy -o -i "$part" "$tmp/boot.cfg" ::/boot.cfg >"$tmp/mcopy.log" 2>&1 || die "cannot write /boot.cfg: $(cat "$tmp/mcopy.log")"

fsck.fat -n "$part" >"$tmp/fsck.log" 2>&1 || die "fsck.fat reports errors on the new file system: $(cat "$tmp/fsck.log")"

# ---- MBR: no boot code, one partition entry (type 0x06, FAT16 >= 32 MiB) ---
le32() {  # prints 4 little-endian bytes as printf escapes
  printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}
mbr=$tmp/mbr.bin
dd if=/dev/zero of="$mbr" bs=512 count="$part_start" status=none
# entry 0: status 0x80 (active), CHS start/end set to the LBA-only marker values
entry="\\x80\\xfe\\xff\\xff\\x06\\xfe\\xff\\xff$(le32 $part_start)$(le32 $part_sectors)"
printf "$entry" | dd of="$mbr" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$mbr" bs=1 seek=510 conv=notrunc status=none
# disk signature (4 bytes at 440), from the size, so images are reproducible
printf "$(le32 $((0x42460000 + size_mib)))" | dd of="$mbr" bs=1 seek=440 conv=notrunc status=none

cat "$mbr" "$part" >"$out.tmp.$$" || die "cannot write $out"
mv -f "$out.tmp.$$" "$out"
echo "mkimage.sh: wrote $out (${size_mib} MiB, FAT16 partition at LBA $part_start, ${#srcs[@]} files, boot.cfg: $cmdline)"
