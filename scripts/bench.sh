#!/usr/bin/env bash
# Prints the README's performance table: `bareflow bench` on mkmodel models of the
# stories15M and stories110M shapes, F32 / Q8_0 / Q4_0, with 1 and 2 threads.
# Models are generated once into $BENCH_MODELS (default build/bench-models).
# usage: scripts/bench.sh [bareflow binary]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/src/cli/bareflow}
models=${BENCH_MODELS:-$root/build/bench-models}
shared=${BAREFLOW_SHARED:-$root/../shared}
vocab=$shared/models/llama2-tokenizer/tokenizer.bin
mkdir -p "$models"

echo "| model | type | threads | prompt tok/s | generation tok/s | read bandwidth GB/s | bound tok/s | of bound |"
echo "|---|---|---|---|---|---|---|---|"
for preset in stories15M stories110M; do
  for type in f32 q8_0 q4_0; do
    file=$models/$preset-$type.gguf
    [ -f "$file" ] || "$bin" mkmodel --preset "$preset" --type "$type" --vocab "$vocab" -o "$file" 2>/dev/null
    for threads in 1 2; do
      out=$("$bin" bench -m "$file" -t "$threads" -p 32 -n 32 -r 3)
      field() { awk -v k="$1" '$1 == k":" {print $2}' <<<"$out"; }
      printf '| %s | %s | %s | %s | %s | %s | %s | %s%% |\n' "$preset" "$type" "$threads" "$(field prompt)" \
        "$(field generation)" "$(field bandwidth)" "$(field bound)" "$(field achieved)"
    done
  done
done
