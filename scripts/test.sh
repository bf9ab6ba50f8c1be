#!/usr/bin/env bash
# Installs what the project needs, builds, and runs every test. The last line of the output is
# `N passed, N failed[, N skipped]`; the exit status is non-zero when any test failed.
# Arguments go to the Catch2 runner, e.g. `scripts/test.sh "[volumes]"` runs one tag.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
# The request readers' fuzz targets, 30 s each (FUZZ_SECONDS; 0 skips): fails on any crash.
bash scripts/fuzz.sh
exec "${BUILD_DIR:-build}/tests/dvdi-tests" "$@"
