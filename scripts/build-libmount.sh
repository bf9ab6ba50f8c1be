#!/usr/bin/env bash
# Builds static libmount.a and libblkid.a from util-linux's Debian source package into PREFIX
# (PREFIX/lib, PREFIX/include/libmount, PREFIX/include/blkid). Debian ships no static libmount,
# and dvdi-hook links fully statically.
#
# Usage: build-libmount.sh PREFIX
# Meson calls this at configure time with PREFIX under the build directory; when the libraries
# are already there it does nothing, so a rebuild never repeats it. A packager with a static
# libmount of their own skips this script with `meson setup -Dlibmount_prefix=DIR`.
set -euo pipefail

prefix=${1:?usage: build-libmount.sh PREFIX}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

if [ -f "$prefix/lib/libmount.a" ] && [ -f "$prefix/lib/libblkid.a" ] &&
  [ -f "$prefix/include/libmount/libmount.h" ]; then
  echo "build-libmount: using cached $prefix"
  exit 0
fi

work="$prefix/src"
rm -rf "$work"
mkdir -p "$work"
cd "$work"

# apt-get source unpacks and applies Debian's patches (dpkg-source, from dpkg-dev). It prefers
# the _apt sandbox user; as root without it, it warns and goes on.
echo "build-libmount: fetching util-linux's Debian source package into $work"
apt-get source -q util-linux >"$work/apt-get-source.log" 2>&1 || {
  cat "$work/apt-get-source.log" >&2
  echo "build-libmount: apt-get source util-linux failed (is a deb-src entry configured? scripts/setup.sh adds one)" >&2
  exit 1
}
src=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'util-linux-*' | head -n 1)
[ -n "$src" ] || { echo "build-libmount: no util-linux-* directory after apt-get source" >&2; exit 1; }
cd "$src"

# Debian's patches touch configure.ac and m4 files, which would make automake's rules ask for
# aclocal/autoconf. The shipped configure is what we want: mark the generated files as newer.
find . \( -name aclocal.m4 -o -name configure -o -name Makefile.in -o -name config.h.in \) \
  -exec touch {} +

echo "build-libmount: configuring $(basename "$src") (libmount and libblkid only, static)"
./configure -q --prefix="$prefix" \
  --disable-all-programs --enable-libmount --enable-libblkid \
  --disable-shared --enable-static --with-pic \
  --without-selinux --without-udev --without-systemd --without-python \
  --without-readline --without-ncurses --without-ncursesw --without-tinfo \
  --without-cap-ng --without-libz --without-libmagic --without-audit \
  --disable-nls --disable-bash-completion --disable-libuuid --disable-libsmartcols \
  --disable-libfdisk --disable-asciidoc --disable-poman \
  >"$work/configure.log" 2>&1 || { tail -n 40 "$work/configure.log" >&2; exit 1; }

echo "build-libmount: compiling"
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log" >&2; exit 1; }
make install >"$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; exit 1; }

for f in lib/libmount.a lib/libblkid.a include/libmount/libmount.h; do
  [ -f "$prefix/$f" ] || { echo "build-libmount: $prefix/$f was not installed" >&2; exit 1; }
done
# Keep the cache small: the unpacked sources are not needed once the archives are installed.
rm -rf "$work"
echo "build-libmount: built $prefix/lib/libmount.a and libblkid.a"
