#!/usr/bin/env bash
# The main job on a fresh machine: install, build, then generate a story with the
# default model from ../shared (override with BAREFLOW_SHARED).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${BAREFLOW_SHARED:-$root/../shared}
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" > "${TMPDIR:-/tmp}/bareflow-build.log" || { cat "${TMPDIR:-/tmp}/bareflow-build.log"; exit 1; }
"$root/build/src/cli/bareflow" run \
  -m "$shared/models/stories260K/stories260K.bin" -z "$shared/models/stories260K/tok512.bin" \
  -p "${1:-Once upon a time}" -n "${2:-200}" --temp 0
