#!/usr/bin/env bash
# Installs what the project needs, builds, and runs every test. The last line of the output is
# `N passed, N failed[, N skipped]`; the exit status is non-zero when any test failed.
# Arguments go to the Catch2 runner, e.g. `scripts/test.sh "[volumes]"` runs one tag.
# The .deb and .rpm the [packaging] tests check are built first (scripts/package.sh, into
# build/packages) when every test or a [packaging] tag is run; DVDI_SKIP_PACKAGES=1 skips that.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
# The request readers' fuzz targets, 30 s each (FUZZ_SECONDS; 0 skips): fails on any crash.
bash scripts/fuzz.sh
# The packages the [packaging] tests install and inspect (DVDI_SKIP_PACKAGES=1: not built, and
# those tests skip and say why).
if [ -z "${DVDI_SKIP_PACKAGES:-}" ] && { [ $# -eq 0 ] || [[ "$*" == *packaging* ]]; }; then
  bash scripts/package.sh "${BUILD_DIR:-build}/packages"
fi
exec "${BUILD_DIR:-build}/tests/dvdi-tests" "$@"
