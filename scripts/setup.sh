#!/usr/bin/env bash
# Installs everything dvdi-hook needs to build and to run its tests on Debian 12, as root.
# Idempotent: a second run installs nothing new. Used by the README's commands and by .ci/run.
#
# Usage: bash scripts/setup.sh [--demo]
# --demo installs only what scripts/demo.sh needs: the build dependencies, runc, busybox-static
# and jq (no test, packaging or formatting tools). Without it, everything (scripts/test.sh, CI).
set -euo pipefail

demo=false
case "${1:-}" in
  "") ;;
  --demo) demo=true ;;
  *)
    echo "setup.sh: unknown argument '$1' (usage: setup.sh [--demo])" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive

# The static libmount is built from util-linux's Debian source package: apt-get source needs a
# deb-src entry. Add one beside the machine's own sources when none is there.
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >/etc/apt/sources.list.d/dvdi-hook-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -f /var/lib/apt/lists/.dvdi-hook-updated
fi

# What building build/hook/dvdi-hook needs (and configuring build/, static libmount included).
build_packages=(
  g++ meson ninja-build pkg-config file git ca-certificates
  libcli11-dev nlohmann-json3-dev libfmt-dev
  libsqlite3-dev                # the node's state (state.db); its libsqlite3.a keeps the hook static
  dpkg-dev                      # apt-get source (dpkg-source) for util-linux
)
# What scripts/demo.sh runs.
demo_packages=(
  runc busybox-static jq        # jq: the demo edits a `runc spec` config
  util-linux                    # unshare: the demo's private mount namespace
)
# The test suite, the fuzz targets, the packages, the format check and the benchmarks.
test_packages=(
  catch2 clang-format
  debhelper fakeroot rpm        # scripts/package.sh: the .deb and the .rpm
  crun podman
  e2fsprogs xfsprogs mount
  iproute2 procps psmisc
  clang libclang-rt-14-dev      # libFuzzer targets
  lintian man-db                # the packaging tests
  time                          # bench/run.sh: GNU time's peak RSS (%M)
)

wanted=("${build_packages[@]}" "${demo_packages[@]}")
if [ "$demo" = false ]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for p in "${wanted[@]}"; do
  [ "${p:0:1}" = "#" ] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ ! -e /var/lib/apt/lists/.dvdi-hook-updated ]; then
  apt-get update -q
  touch /var/lib/apt/lists/.dvdi-hook-updated
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "$demo" = true ]; then
  echo "setup.sh: all build and demo dependencies are installed"
else
  echo "setup.sh: all build and test dependencies are installed"
fi
