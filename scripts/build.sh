#!/usr/bin/env bash
# Configures and builds BareFlow (Release, static bareflow, the unikernel) into build/.
# usage: scripts/build.sh   (env BUILD_DIR to change the folder, JOBS for parallelism)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j "${JOBS:-$(nproc)}"
