#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite: unit, kernel and CLI tests. Needs
# root: the kernel and CLI tests load real BPF programs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec ctest --test-dir "${CORETRACE_BUILD_DIR:-build}" --output-on-failure --timeout 300 "$@"
