#!/usr/bin/env bash
# Prints the README's performance table: `bareflow bench -p 128 -n 64 -r 3` on mkmodel
# models of the stories15M, stories110M and TinyLlama-1.1B shapes, Q8_0 and Q4_0, with
# 1 and 2 threads; prompt (batched) as % of the int8 compute bound, generation as % of
# the read-bandwidth bound, both measured by bench in the same run.
#
# usage: scripts/bench.sh [--quick] [--tune] [--types "T ..."] [--bin PATH] [-- extra bench options, e.g. --max-isa avx2]
#   --quick   stories15M and stories110M only (TinyLlama's Q8_0 file alone is 1.2 GB)
#   --tune    the self-optimization table instead: `bareflow tune` from a cold state on each
#             model (convergence, tuned/fixed plans, tuned/reference, the second start)
#   --types   mkmodel --type values (default "q8_0 q4_0"), e.g. "q4_k_m q5_k_m q6_k"
# Models are written once into $BENCH_CACHE (default /tmp/bareflow-bench), outside the
# repository. bench runs with --no-state (the fixed kernels); --tune keeps its snapshots in
# a fresh directory of its own. Needs python3 to read bench's output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/src/cli/bareflow
presets="stories15M stories110M tinyllama"
types="q8_0 q4_0"
extra=()
tune=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) presets="stories15M stories110M" ;;
    --tune) tune=1 ;;
    --types) types=$2; shift ;;
    --bin) bin=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--quick] [--types \"T ...\"] [--bin PATH] [-- bench options]" >&2; exit 2 ;;
  esac
  shift
done
cache=${BENCH_CACHE:-/tmp/bareflow-bench}
shared=${BAREFLOW_SHARED:-$root/../shared}
vocab=$shared/models/llama2-tokenizer/tokenizer.bin
mkdir -p "$cache"

# One table row from bench's JSON on stdin; the CPU (once) and each run's bounds go to stderr.
row() {
  python3 -c '
import json, sys
j = json.load(sys.stdin)
name, wtype, first = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def f(v, fmt):
    return "n/a" if v is None else fmt % v
if first:
    c = j["cpu"]
    print("CPU: %s (%s), kernels at %s" % (c["brand"] or c["vendor"], c["level"], j["isa"]), file=sys.stderr)
print("%s %s T=%d: read bandwidth %s GB/s (bound %s tok/s), int8 peak %s GOP/s (%s)" % (
    name, wtype, j["threads"], f(j["bandwidth"]["gb_s"], "%.1f"), f(j["bandwidth"]["bound_tok_s"], "%.1f"),
    f(j["int8_peak"]["gop_s"], "%.0f"), j["int8_peak"]["kernel"]), file=sys.stderr)
matmuls = ", ".join(v["name"] for v in j["variants"] if v["name"].startswith("matmul."))
print("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
    name, wtype, j["threads"], f(j["prompt"]["tok_s"], "%.1f"), f(j["prompt"]["pct_of_bound"], "%.0f%%"),
    f(j["generation"]["tok_s"], "%.1f"), f(j["generation"]["pct_of_bound"], "%.0f%%"), matmuls))
' "$@"
}

# One table row from `bareflow tune`'s report on stdin.
tune_row() {
  python3 -c '
import re, sys
t = sys.stdin.read()
def g(pattern, fmt="%s"):
    m = re.search(pattern, t)
    return fmt % m.group(1) if m else "n/a"
conv = re.search(r"converged: +after (\d+) token steps, ([\d.]+) s", t)
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
    sys.argv[1], sys.argv[2], sys.argv[3],
    "%s steps, %s s" % conv.groups() if conv else "not converged",
    g(r"tuned/fixed: +([\d.]+x)"), g(r"prompt tuned/fixed: ([\d.]+x)"),
    g(r"tuned/reference ([\d.]+x)"),
    g(r"second start: .*\(([\d.]+x)\); no tuning"), g(r"tuner hooks: +([\d.]+%)")))
' "$@"
}

model_file() {
  local file=$cache/$1-$2.gguf
  if [ ! -f "$file" ]; then
    "$bin" mkmodel --preset "$1" --type "$2" --format gguf --vocab "$vocab" -o "$file.tmp" >/dev/null
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

if [ "$tune" = 1 ]; then
  state=$(mktemp -d)
  trap 'rm -rf "$state"' EXIT
  "$bin" info --cpu | head -3 >&2
  echo "| model | type | threads | converged after | generation tuned/fixed | prompt tuned/fixed | tuned/reference | second start: first step / steady | tuner hooks while tuning |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for preset in $presets; do
    for type in $types; do
      file=$(model_file "$preset" "$type")
      for threads in 1 2; do
        "$bin" tune -m "$file" -t "$threads" --state "$state/$preset-$type-$threads" --seconds 600 ${extra[@]+"${extra[@]}"} |
          tune_row "$preset" "$type" "$threads"
      done
    done
  done
  exit 0
fi

echo "| model | type | threads | prompt tok/s | % of compute bound | generation tok/s | % of bandwidth bound | matmul variants |"
echo "|---|---|---|---|---|---|---|---|"
first=1
for preset in $presets; do
  for type in $types; do
    file=$(model_file "$preset" "$type")
    for threads in 1 2; do
      "$bin" bench -m "$file" -t "$threads" -p 128 -n 64 -r 3 --no-state --json ${extra[@]+"${extra[@]}"} | row "$preset" "$type" "$first"
      first=0
    done
  done
done
