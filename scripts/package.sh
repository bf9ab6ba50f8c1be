#!/usr/bin/env bash
# Builds the .deb (debhelper, packaging/deb/debian) and the .rpm (packaging/rpm/dvdi-hook.spec)
# from the working tree into OUTDIR (default ${BUILD_DIR:-build}/packages), with the version
# of meson.build's `version:`. Both compile the static executable with the project's meson
# build; -Dtests=false.
#
# Usage: bash scripts/package.sh [OUTDIR]
# DVDI_LIBMOUNT_PREFIX=DIR reuses a prebuilt static libmount (e.g. /work/lm-static). Unset, the
# one of the development build (${BUILD_DIR:-build}/libmount-static) is reused when it exists;
# otherwise each package build makes its own from `apt-get source util-linux`.
# JOBS (default 2) is the parallelism of each build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-${BUILD_DIR:-build}/packages}
jobs=${JOBS:-2}

version=$(sed -nE "s/^[[:space:]]*version:[[:space:]]*'([^']+)',?.*/\1/p" meson.build | head -n 1)
[ -n "$version" ] || { echo "package.sh: no version: in meson.build" >&2; exit 1; }

if [ -z "${DVDI_LIBMOUNT_PREFIX:-}" ] && [ -f "${BUILD_DIR:-build}/libmount-static/lib/libmount.a" ]; then
  DVDI_LIBMOUNT_PREFIX=$root/${BUILD_DIR:-build}/libmount-static
fi
if [ -n "${DVDI_LIBMOUNT_PREFIX:-}" ]; then
  export DVDI_LIBMOUNT_PREFIX
  echo "package.sh: static libmount from $DVDI_LIBMOUNT_PREFIX"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/work
rm -rf "$work"
mkdir -p "$work"
rm -f "$out"/dvdi-hook*.deb "$out"/dvdi-hook*.ddeb "$out"/dvdi-hook*.rpm

# The source: tracked and untracked-but-not-ignored files of the working tree, so uncommitted
# changes are packaged too. Reproducible: sorted, owned by root, dated by the last commit.
name=dvdi-hook-$version
stamp=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$stamp
orig=$work/dvdi-hook_$version.orig.tar.gz
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - --sort=name --mtime="@$stamp" --owner=0 --group=0 --numeric-owner \
    --transform "s,^,$name/," -czf "$orig"

echo "package.sh: building dvdi-hook $version .deb"
tar -xzf "$orig" -C "$work"
cp -r "$work/$name/packaging/deb/debian" "$work/$name/debian"
cat >"$work/$name/debian/changelog" <<CHANGELOG
dvdi-hook ($version-1) unstable; urgency=medium

  * Version $version (from meson.build, written by scripts/package.sh).

 -- dvdi-hook maintainers <dvdi-hook@example.org>  $(date -R -u -d "@$stamp")
CHANGELOG
(cd "$work/$name" && dpkg-buildpackage -us -uc -j"$jobs") >"$work/deb-build.log" 2>&1 || {
  tail -n 60 "$work/deb-build.log" >&2
  echo "package.sh: dpkg-buildpackage failed (full log: $work/deb-build.log)" >&2
  exit 1
}
cp "$work"/dvdi-hook_"$version"-1_*.deb "$work"/*.dsc "$work"/*.debian.tar.* "$orig" "$out"/
cp "$work"/dvdi-hook-dbgsym_*.*deb "$work"/*.changes "$out"/ 2>/dev/null || true

echo "package.sh: building dvdi-hook $version .rpm"
top=$work/rpm
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS,BUILDROOT}
cp "$orig" "$top/SOURCES/$name.tar.gz"
# --nodeps: the build dependencies are Debian packages here, which rpm's database does not know.
rpmbuild -ba --nodeps --define "_topdir $top" --define "dvdi_version $version" \
  --define "_smp_mflags -j$jobs" packaging/rpm/dvdi-hook.spec >"$work/rpm-build.log" 2>&1 || {
  tail -n 60 "$work/rpm-build.log" >&2
  echo "package.sh: rpmbuild failed (full log: $work/rpm-build.log)" >&2
  exit 1
}
cp "$top"/RPMS/*/*.rpm "$top"/SRPMS/*.rpm "$out"/

echo "package.sh: packages in $out:"
(cd "$out" && ls -1 ./*.deb ./*.rpm)
