#!/usr/bin/env bash
# Counts the instructions (valgrind callgrind) of one dvdi-hook prestart with no volume and with
# one test-plugin volume, and of `busybox true`: the load-independent view of bench/run.sh's
# exec-level figures. As root, after a build: `bash bench/profile.sh [OUT_DIR]` (default
# bench/results); HOOK=PATH profiles another binary. Private mount namespace, temp dir removed.
# Caveat: valgrind 3.19 does not know openat2 (ENOSYS), so under it the hook takes its
# "no openat2" error path (prestart with a volume fails, after one C++ throw whose first unwind
# sorts every FDE of the static binary: ~25M instructions). Native runs have openat2.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-bench/results}")
hook=$(realpath "${HOOK:-${BUILD_DIR:-build}/hook/dvdi-hook}")
plugin=$(realpath "${BUILD_DIR:-build}/tests/dvdi-test-plugin")
if [ "${DVDI_BENCH_INNER:-}" != 1 ]; then
  exec unshare --mount --propagation private env DVDI_BENCH_INNER=1 HOOK="$hook" bash "$0" "$out"
fi
mkdir -p "$out"
w=$(mktemp -d /tmp/dvdi-profile.XXXXXX)
pp='' sp=''
cleanup() {
  [ -z "$pp" ] || kill "$pp" 2>/dev/null || true
  [ -z "$sp" ] || kill "$sp" 2>/dev/null || true
  wait 2>/dev/null || true
  umount "$w/state" 2>/dev/null || true
  rm -rf "$w"
}
trap cleanup EXIT
mkdir -p "$w/plugins" "$w/state" "$w/rootfs" "$w/b" "$w/n"
mount -t tmpfs bench-state "$w/state"
"$plugin" --root "$w/pv" --socket "$w/plugins/bench.sock" --ready "$w/ready" &
pp=$!
unshare -m --propagation private sleep 100000 &
sp=$!
for _ in $(seq 100); do [ -s "$w/ready" ] && break; sleep 0.05; done
jq -n --arg w "$w" '{default_driver: "local", state_dir: ($w + "/state"), data_dir: ($w + "/data"), syslog: false,
  plugin_socket_dirs: [($w + "/plugins")], plugin_spec_dirs: [($w + "/specs")]}' >"$w/node.json"
jq -n --arg r "$w/rootfs" '{ociVersion: "1.0.2", root: {path: $r}, process: {args: ["true"], cwd: "/",
  env: ["PATH=/bin", "DVDI_VOLUME_NAME=bv0", "DVDI_VOLUME_DRIVER=bench", "DVDI_VOLUME_CONTAINERPATH=/data0"]}}' \
  >"$w/b/config.json"
jq '.process.env = ["PATH=/bin"]' "$w/b/config.json" >"$w/n/config.json"
st() { jq -n --arg b "$1" --argjson p "$sp" --arg s "$2" --arg id "$3" \
  '{ociVersion: "1.0.2", id: $id, status: $s, pid: $p, bundle: $b}'; }
st "$w/b" creating prof >"$w/pre.json"
st "$w/b" stopped prof >"$w/post.json"
st "$w/n" creating profn >"$w/novol.json"
# Warm the plugin (Create) so the profiled run is the steady state.
"$hook" --config "$w/node.json" prestart <"$w/pre.json"
"$hook" --config "$w/node.json" poststop <"$w/post.json"
# System calls of one native prestart and poststop (strace -f -c), before valgrind touches the state.
strace -f -c -o "$out/strace.prestart-1vol" "$hook" --config "$w/node.json" prestart <"$w/pre.json"
strace -f -c -o "$out/strace.poststop-1vol" "$hook" --config "$w/node.json" poststop <"$w/post.json"
for f in prestart poststop; do
  awk -v f="$f" '$NF ~ /^(execve|clone|clone3|fork|vfork|fsync|fdatasync|rename|renameat2|open_tree|move_mount|mount|setns|connect)$/ {printf "%s-1vol %s %s\n", f, $NF, $4}' \
    "$out/strace.$f-1vol"
done
cg() { # NAME STDIN ARGS...
  local name=$1 in=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$name" "$@" <"$in" 2>&1 >/dev/null |
    sed -n "s/.*Collected : \([0-9]*\).*/$name \1/p"
}
cg busybox-true "$w/novol.json" /bin/busybox true
cg prestart-novolume "$w/novol.json" "$hook" --config "$w/node.json" prestart
cg prestart-1vol "$w/pre.json" "$hook" --config "$w/node.json" prestart
cg poststop-1vol "$w/post.json" "$hook" --config "$w/node.json" poststop || true
echo "instructions per run above; details: callgrind_annotate --inclusive=yes $out/callgrind.NAME" >&2
