#!/usr/bin/env bash
# Builds every fuzz/*_fuzz.cpp with libFuzzer + ASan + UBSan (clang), seeds each from the
# files in ../shared (copied into a temporary corpus, never into the repository) and runs
# each for SECONDS. Exits non-zero if any target crashes, leaks, times out or fails to build.
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (default 30 s; targets: gguf llama2c ...)
# env:   BAREFLOW_SHARED   shared data (default: ../shared beside the repository)
#        FUZZ_BUILD        build directory (default: build-fuzz)
#        FUZZ_CORPUS       keep the corpora here instead of a temporary directory
#        FUZZ_JOBS         parallel compiles (default 2)
#        FUZZ_ARGS         extra libFuzzer flags
#
# Each target links the engine parsers (src/util, src/model, src/tokenizer, src/kernels/dtype),
# plus, for a target NAME, the sources of kernel/NAME/ if that directory exists (fat16), plus
# any files named on a line "// fuzz-sources: a.cpp b.cpp" (repository-relative) in the target.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-30}
shift || true
shared=${BAREFLOW_SHARED:-$root/../shared}
out=${FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-2}
cxx=${CXX_FUZZ:-clang++}
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number, got '$secs'" >&2; exit 2; }
[ -d "$shared/models" ] || { echo "fuzz.sh: no shared data at $shared (set BAREFLOW_SHARED)" >&2; exit 2; }

common=(-std=c++20 -g -Wall -Wextra -I"$root/src" -fno-omit-frame-pointer)
san=(-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined)
mkdir -p "$out/obj" "$out/artifacts" "$out/logs"

# ---- engine objects, compiled once (rebuilt when a source or header of theirs is newer)
engine_srcs=(src/util/*.cpp src/model/*.cpp src/tokenizer/*.cpp src/kernels/dtype.cpp)
echo "fuzz.sh: building engine objects in $out"
newest_header=$(ls -t src/util/*.h src/model/*.h src/tokenizer/*.h src/kernels/*.h | head -1)
engine_objs=()
pids=()
build_failed=0
for s in "${engine_srcs[@]}"; do
  o="$out/obj/$(echo "$s" | tr / _).o"
  engine_objs+=("$o")
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_header" -nt "$o" ]; then
    echo "  CXX $s"
    ("$cxx" "${common[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$s" -o "$o" || { rm -f "$o"; exit 1; }) &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || build_failed=1
      pids=("${pids[@]:1}")
    fi
  fi
done
for p in "${pids[@]}"; do wait "$p" || build_failed=1; done
[ $build_failed = 0 ] || { echo "fuzz.sh: engine build failed" >&2; exit 1; }

# ---- seed generator (mkmodel writer, no sanitizers: it only writes files)
seedgen="$out/make_seeds"
seed_srcs=(fuzz/make_seeds.cpp src/mkmodel/mkmodel.cpp src/mkmodel/recipes.cpp src/mkmodel/gguf_writer.cpp src/mkmodel/llama2c_writer.cpp
  src/mkmodel/file_writer.cpp src/kernels/quantize.cpp src/kernels/quantize_k.cpp src/kernels/dtype.cpp src/util/mapped_file.cpp
  src/snapshot/format.cpp)
rebuild=0
for s in "${seed_srcs[@]}"; do [ "$s" -nt "$seedgen" ] && rebuild=1; done
if [ ! -x "$seedgen" ] || [ $rebuild = 1 ]; then
  echo "  LINK make_seeds"
  "$cxx" "${common[@]}" -O1 "${seed_srcs[@]}" -o "$seedgen"
fi

# ---- corpora
if [ -n "${FUZZ_CORPUS:-}" ]; then
  corpora=$FUZZ_CORPUS
  mkdir -p "$corpora"
else
  corpora=$(mktemp -d "${TMPDIR:-/tmp}/bareflow-fuzz.XXXXXX")
  trap 'rm -rf "$corpora"' EXIT
fi
generated="$corpora/.generated"
"$seedgen" "$generated"

seed() {  # name files...
  local dir="$corpora/$1"
  shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/seed_$(basename "$f")"; done
  chmod -R u+w "$dir"
}
seed_target() {
  local m="$shared/models"
  case "$1" in
    gguf) seed gguf "$m/stories260K/stories260K.gguf" "$m/tiny-random/llama-2-tiny-random.gguf" \
            "$m/llama2-tokenizer/ggml-vocab-llama-spm.gguf" "$generated"/gguf/* ;;
    llama2c) seed llama2c "$m/stories260K/stories260K.bin" "$generated"/llama2c/* ;;
    snapshot) seed snapshot "$generated"/snapshot/* ;;
    tokenizer) seed tokenizer "$m/stories260K/tok512.bin" "$m/llama2-tokenizer/ggml-vocab-llama-spm.gguf.inp" ;;
    fat16)
      seed fat16
      if command -v mkfs.fat >/dev/null && command -v mcopy >/dev/null; then
        local img="$corpora/fat16/seed_fat16.img"
        rm -f "$img"
        # 512-byte clusters: 4200 KiB is then well inside FAT16's cluster-count range.
        mkfs.fat -C -F 16 -s 1 -n BAREFLOW "$img" 4200 >/dev/null 2>&1 || true
        if [ -f "$img" ]; then
          printf 'model=stories260K.bin\n' >"$corpora/boot.cfg"
          mcopy -i "$img" "$corpora/boot.cfg" ::BOOT.CFG 2>/dev/null || true
          mcopy -i "$img" "$m/stories260K/tok512.bin" ::tokenizer.bin 2>/dev/null || true
        fi
      fi ;;
    *) seed "$1" ;;
  esac
}

# ---- targets
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" _fuzz.cpp)"); done
fi

failed=()
for t in "${targets[@]}"; do
  src="fuzz/${t}_fuzz.cpp"
  bin="$out/${t}_fuzz"
  if [ ! -f "$src" ]; then
    echo "fuzz.sh: no $src" >&2
    failed+=("$t(missing)")
    continue
  fi
  extra=()
  inc=(-I"$root/fuzz")
  if [ -d "kernel/$t" ]; then
    for s in kernel/"$t"/*.cpp; do extra+=("$s"); done
    inc+=(-I"$root/kernel/$t" -I"$root/kernel")
  fi
  for s in $(sed -n 's|^// fuzz-sources:||p' "$src"); do extra+=("$s"); done
  echo "fuzz.sh: building $t"
  if ! "$cxx" "${common[@]}" "${san[@]}" -fsanitize=fuzzer "${inc[@]}" "$src" "${extra[@]}" "${engine_objs[@]}" -o "$bin" \
      2>"$out/logs/$t.build.log"; then
    cat "$out/logs/$t.build.log" >&2
    failed+=("$t(build)")
    continue
  fi
  seed_target "$t"
  log="$out/logs/$t.log"
  echo "fuzz.sh: running $t for ${secs}s ($(ls "$corpora/$t" | wc -l) inputs in its corpus; log: $log)"
  # Small inputs run fast: the real model files in the seeds are cut to their headers.
  case "$t" in
    gguf) max_len=131072 ;;
    llama2c) max_len=65536 ;;
    fat16) max_len=65536 ;;  # boot sector, FATs and root directory of the seed image
    snapshot) max_len=8192 ;;  # the seeds are a few hundred bytes
    *) max_len=0 ;;  # libFuzzer's guess from the corpus
  esac
  # -malloc_limit_mb: one allocation above 512 MB is a bug (inputs are at most a few MB);
  # -timeout: one input taking seconds is a hang.
  # shellcheck disable=SC2086
  if "$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 ${FUZZ_ARGS:-} "$corpora/$t" >"$log" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed "s/^/  $t: /" || true
  else
    echo "fuzz.sh: $t FAILED; end of its log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (crashing inputs in $out/artifacts)" >&2
  exit 1
fi
echo "fuzz.sh: all targets ran ${secs}s without a crash: ${targets[*]}"
