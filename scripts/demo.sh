#!/usr/bin/env bash
# The main job on the embedded default: installs what is needed, builds dvdi-hook, and runs it
# as runc's prestart/poststop hook with the built-in `local` driver. One container writes into a
# volume, a second container reads it back. Everything (node state, volume data, bundles) lives
# in a temporary directory, and the demo runs in a private mount namespace: it leaves nothing.
#
# It builds only what it runs (build/hook/dvdi-hook, not the test suite) and says what it is
# doing before each step; a step that fails shows its output.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}

# Runs a step with its output kept in a log, shown only when the step fails.
step() { # MESSAGE COMMAND...
  local message=$1 log
  shift
  echo "demo: $message"
  log=$(mktemp /tmp/dvdi-demo-step.XXXXXX)
  if ! "$@" >"$log" 2>&1; then
    echo "demo: failed: $*; its output:" >&2
    cat "$log" >&2
    echo "demo: (that output is also in $log)" >&2
    exit 1
  fi
  rm -f "$log"
}

if [ "${DVDI_DEMO_INNER:-}" != 1 ]; then
  step "installing build dependencies, runc, busybox-static and jq (apt; nothing when already there)..." \
    bash scripts/setup.sh --demo
  if [ ! -f "$builddir/build.ninja" ]; then
    # meson setup would build it too (into the same place), silently: done first, it is announced.
    if [ ! -f "$builddir/libmount-static/lib/libmount.a" ]; then
      step "building the static libmount from util-linux's Debian source package (first time only; a few minutes)..." \
        bash scripts/build-libmount.sh "$builddir/libmount-static"
    fi
    step "configuring the build in $builddir (meson setup)..." meson setup "$builddir"
  fi
  step "building dvdi-hook (ninja -C $builddir hook/dvdi-hook; the test suite is not built)..." \
    ninja -C "$builddir" hook/dvdi-hook
  # Re-run inside a private mount namespace, so the demo's mounts never reach the host.
  exec unshare --mount --propagation private env DVDI_DEMO_INNER=1 bash "$0" "$@"
fi
hook=$(realpath "$builddir/hook/dvdi-hook")

work=$(mktemp -d /tmp/dvdi-demo.XXXXXX)
cleanup() {
  runc --root "$work/runc" delete --force demo-writer >/dev/null 2>&1 || true
  runc --root "$work/runc" delete --force demo-reader >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

say "A node config for this demo: the local driver keeps volumes under $work/data"
cat >"$work/config.json" <<JSON
{"default_driver": "local", "state_dir": "$work/state", "data_dir": "$work/data", "syslog": false}
JSON
cat "$work/config.json"

# A busybox-static root file system and a bundle per container, from runc's own template.
make_bundle() { # NAME SCRIPT
  local b="$work/$1"
  mkdir -p "$b/rootfs/bin"
  cp /bin/busybox "$b/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$b/rootfs/bin/$applet"
  done
  (cd "$b" && runc spec)
  jq --arg hook "$hook" --arg cfg "$work/config.json" --arg script "$2" '
    .process.terminal = false
    | .process.args = ["sh", "-c", $script]
    | .process.env += ["DVDI_VOLUME_NAME=demo", "DVDI_VOLUME_DRIVER=local", "DVDI_VOLUME_CONTAINERPATH=/data"]
    | .root.readonly = false
    | .hooks = {
        "prestart": [{"path": $hook, "args": ["dvdi-hook", "--config", $cfg, "prestart"],
                      "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "timeout": 60}],
        "poststop": [{"path": $hook, "args": ["dvdi-hook", "--config", $cfg, "poststop"],
                      "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "timeout": 60}]}' \
    "$b/config.json" >"$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
}
make_bundle writer 'echo "written by container 1 at $(date)" > /data/message; echo "container 1: wrote /data/message"; grep " /data " /proc/self/mountinfo | sed "s/^/container 1 sees: /"'
make_bundle reader 'echo "container 2: /data/message says: $(cat /data/message)"'

say "The container's volume request (DVDI_VOLUME_* in config.json process.env)"
jq -c '.process.env' "$work/writer/config.json"

say "Container 1 (runc, with dvdi-hook as prestart and poststop hook) writes into volume 'demo'"
runc --root "$work/runc" run --bundle "$work/writer" demo-writer

say "Container 2, a new container, reads it back"
runc --root "$work/runc" run --bundle "$work/reader" demo-reader

say "On the host, the volume's data (local driver: <data_dir>/volumes/demo/_data)"
cat "$work/data/volumes/demo/_data/message"

say "Both containers are gone: dvdi-hook released the volume (dvdi-hook list)"
"$hook" --config "$work/config.json" list

say "Done. This demo ran in a private mount namespace and removed $work."
