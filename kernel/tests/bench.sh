#!/usr/bin/env bash
# Kernel benchmarks (prints figures; not a pass/fail test):
#   - the kernel's size,
#   - boot time from the kernel's first instruction to the program's first instruction (TSC),
#   - `bareflow bench` tok/s in the guest vs on Linux, on 1 and 2 CPUs.
# usage: kernel/tests/bench.sh KERNEL BAREFLOW MODEL [kvm|tcg]
#   BENCH_IMAGE_MIB=512 makes a bigger disk (8 KiB clusters: faster loading under kvm-pvm).
set -uo pipefail
kernel=$1 bareflow=$2 model=$3 accel=${4:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "kernel: $(stat -c %s "$kernel") bytes file; $(size -A "$kernel" | awk '/^\.(text|rodata|data|init_array)/{s+=$2} END{print s}') bytes loaded + $(size -A "$kernel" | awk '/^\.bss/{print $2}') bytes bss"
for t in 1 2; do
  args=(bench -m /model.bin -t $t -p 32 -n 128 -r 3)
  echo "== $t thread(s)"
  echo "linux: $("$bareflow" bench -m "$model" -t $t -p 32 -n 128 -r 3 2>&1 | grep -E '^(prompt|generation):' | tr -s ' ' | paste -sd ';')"
  "$root/scripts/mkimage.sh" "$work/b.img" ${BENCH_IMAGE_MIB:+--size $BENCH_IMAGE_MIB} --file "$bareflow=/bareflow" --file "$model=/model.bin" \
      --cmdline "/bareflow ${args[*]}" >/dev/null
  ${accel:+env BAREFLOW_ACCEL=$accel} "$root/scripts/boot.sh" "$work/b.img" --kernel "$kernel" --smp $t --timeout 900 \
      >"$work/out" 2>"$work/err"
  echo "guest: $(grep -E '^(prompt|generation):' "$work/out" "$work/err" | sed 's/^[^:]*://' | tr -s ' ' | paste -sd ';')"
  grep -E "boot.sh: accel|starting /bareflow" "$work/err" | sed 's/^/  /'
  rm -f "$work/b.img"
done
