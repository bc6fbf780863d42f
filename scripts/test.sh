#!/usr/bin/env bash
# Installs, builds and runs every test: the Release build (engine, unikernel boot tests
# under QEMU, FAT16), a short fuzzing pass over every parser, then the engine and FAT16
# host suites again under ASan+UBSan. Ends with ctest's summary line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BAREFLOW_SHARED=${BAREFLOW_SHARED:-$root/../shared}
bash scripts/install-deps.sh
bash scripts/build.sh
echo "== fuzzing every parser for ${FUZZ_SECONDS:-20} s each"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
echo "== ASan+UBSan build: engine and FAT16 host tests"
bash scripts/ci-asan.sh
echo "== this CPU and the ISA levels the kernel tests run at"
build/src/cli/bareflow info --cpu || true
build/tests/bareflow_tests --gtest_filter='IsaLevels.*' | grep '\[ levels' || true
echo "== Release tests (engine, kernel boot under QEMU, FAT16)"
# ctest lists the skipped tests after its summary; the summary is repeated as the last line.
set +e
ctest --test-dir build --output-on-failure -j 2 2>&1 | tee build/ctest.log
status=${PIPESTATUS[0]}
grep -E '^[0-9]+% tests passed' build/ctest.log | tail -n 1
exit "$status"
