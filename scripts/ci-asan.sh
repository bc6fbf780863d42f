#!/usr/bin/env bash
# Builds everything with ASan + UBSan in build-asan and runs the whole test suite there:
# the engine's tests and the FAT16 library's host tests (label fat16; the freestanding
# kernel and its boot tests are not built here). .ci/run calls this; it prints CTest's
# summary and exits non-zero if anything fails.
#
# usage: scripts/ci-asan.sh [extra ctest args...]
# env:   BAREFLOW_SHARED  shared models (default: ../shared beside the repository)
#        CI_ASAN_BUILD    build directory (default: build-asan)
#        CI_ASAN_JOBS     parallel build and test jobs (default 2)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${CI_ASAN_BUILD:-$root/build-asan}
jobs=${CI_ASAN_JOBS:-2}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Keep an existing build directory's generator: CMake refuses to switch it.
[ -f "$build/CMakeCache.txt" ] && generator=()

start=$(date +%s)
cmake -S "$root" -B "$build" "${generator[@]}" -DBAREFLOW_SANITIZE=ON -DBAREFLOW_KERNEL=OFF
cmake --build "$build" -j "$jobs"
built=$(date +%s)

# Every memory error aborts with a report; leaks count as failures.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@" || status=$?
end=$(date +%s)
echo "ci-asan: build $((built - start)) s, tests $((end - built)) s"
exit $status
