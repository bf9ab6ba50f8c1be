#!/bin/sh
# Installs dvdi-hook's files into DESTDIR: the one file list of both the .deb (debian/rules) and
# the .rpm (dvdi-hook.spec %install). BINARY is the built dvdi-hook; the man page is generated
# from its --help output here, so it documents exactly the commands and flags of this build.
#
# Usage: sh packaging/install.sh DESTDIR BINARY
set -eu

dest=${1:?usage: install.sh DESTDIR BINARY}
binary=${2:?usage: install.sh DESTDIR BINARY}
here=$(cd "$(dirname "$0")" && pwd)
files=$here/files
examples=$here/../examples

install -D -m 0755 "$binary" "$dest/usr/bin/dvdi-hook"

# OCI hooks (containers/common hooks.d schema 1.0.0): podman and CRI-O read this directory.
for stage in prestart poststop; do
  install -D -m 0644 "$files/dvdi-hook-$stage.json" \
    "$dest/usr/share/containers/oci/hooks.d/dvdi-hook-$stage.json"
done

install -D -m 0644 "$files/config.json" "$dest/etc/dvdi-hook/config.json"
install -D -m 0644 "$files/dvdi-hook.tmpfiles" "$dest/usr/lib/tmpfiles.d/dvdi-hook.conf"

# `dvdi-hook gc` after boot and periodically: a static service that the timer starts. The
# packages' maintainer scripts enable and start the timer. /usr/lib/systemd/system is the RPM's
# %{_unitdir} and the unit directory Debian's systemd and lintian name as canonical.
for unit in dvdi-hook-gc.service dvdi-hook-gc.timer; do
  install -D -m 0644 "$files/$unit" "$dest/usr/lib/systemd/system/$unit"
done

# Mesos: the criteo command-isolator wrappers and the example modules file (examples/mesos,
# which tests/hook/test_mesos.cpp runs against the real binary).
for call in prepare isolate cleanup; do
  install -D -m 0755 "$examples/mesos/dvdi-hook-mesos-$call" \
    "$dest/usr/lib/dvdi-hook/mesos/dvdi-hook-mesos-$call"
done
install -D -m 0644 "$examples/mesos/dvdi-hook-modules.json" "$dest/usr/share/dvdi-hook/mesos/modules.json"

# dvdcli compatibility: dvdi-hook acts as dvdcli when called by that name. Off the default PATH
# so it never shadows a real dvdcli; put /usr/lib/dvdi-hook/bin first on Mesos' PATH to use it.
install -d -m 0755 "$dest/usr/lib/dvdi-hook/bin"
ln -sf ../../../bin/dvdi-hook "$dest/usr/lib/dvdi-hook/bin/dvdcli"

# The operator's documentation: the README and docs/*.md, under docs/ as in the repository so
# that the README's links to them hold. debian/rules keeps them uncompressed (dh_compress -X.md)
# and the spec lists them by these paths, so both packages hold the same files.
install -D -m 0644 "$here/../README.md" "$dest/usr/share/doc/dvdi-hook/README.md"
for doc in "$here"/../docs/*.md; do
  install -D -m 0644 "$doc" "$dest/usr/share/doc/dvdi-hook/docs/$(basename "$doc")"
done

install -d -m 0755 "$dest/usr/share/man/man8"
python3 "$here/man/gen-man.py" "$binary" "$here/man/dvdi-hook.8.in" >"$dest/usr/share/man/man8/dvdi-hook.8"
gzip -9nf "$dest/usr/share/man/man8/dvdi-hook.8"
