#!/usr/bin/env bash
# Configures (first time) and builds dvdi-hook and its tests into ${BUILD_DIR:-build}.
# Extra arguments go to `meson setup`, e.g. -Dlibmount_prefix=/opt/libmount-static.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$@"
fi
ninja -C "$builddir"
