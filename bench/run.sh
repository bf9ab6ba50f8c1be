#!/usr/bin/env bash
# dvdi-hook benchmarks (SPEC S6): `bash bench/run.sh [OUT_DIR]`, as root, after scripts/setup.sh.
# Builds with scripts/build.sh, then measures in a private mount namespace with everything
# (node state, plugin socket, bundles, rootfs) in a temp dir it removes. Prints a table and
# writes OUT_DIR/results.json (default OUT_DIR: bench/results). It measures; it never fails on
# time. Repetitions: BENCH_N_EXEC (default 200) for exec-level, BENCH_N_CONTAINER (default 20)
# for whole containers, BENCH_N_FILL (default 50) for the shell hook and the state sizes,
# BENCH_N_SCALE (default 5) rounds of BENCH_SCALE (default 64) containers started at once.
# BENCH_SKIP_BUILD=1 uses the build directory as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: run as root (mount namespaces, runc)" >&2
  exit 2
fi
out_dir=$(realpath -m "${1:-bench/results}")

if [ "${DVDI_BENCH_INNER:-}" != 1 ]; then
  [ "${BENCH_SKIP_BUILD:-}" = 1 ] || bash scripts/build.sh >/dev/null
  exec unshare --mount --propagation private env DVDI_BENCH_INNER=1 bash "$0" "$out_dir"
fi

build=$(realpath "${BUILD_DIR:-build}")
plugin_bin="$build/tests/dvdi-test-plugin"
n_exec=${BENCH_N_EXEC:-200}
n_ctr=${BENCH_N_CONTAINER:-20}
n_fill=${BENCH_N_FILL:-50}
n_scale=${BENCH_N_SCALE:-5}
scale=${BENCH_SCALE:-64}
timer="/usr/bin/python3 $repo/bench/timer.py"

work=$(mktemp -d /tmp/dvdi-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for c in $(runc --root "$work/runc" list -q 2>/dev/null); do
    runc --root "$work/runc" delete --force "$c" >/dev/null 2>&1 || true
  done
  # Anything still mounted under the temp dir (in this private namespace) goes before rm.
  awk -v w="$work" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '== %s\n' "$*" >&2; }
mkdir -p "$out_dir" "$work/plugins" "$work/specs" "$work/res" "$work/state"
# What is measured is the binary as the packages install it: stripped (dh_strip, rpm's brp-strip).
hook="$work/dvdi-hook"
strip -o "$hook" "$build/hook/dvdi-hook"
# The node state on a tmpfs, as /run/dvdi is on a real node (state writes are fsynced).
mount -t tmpfs -o size=64m,mode=0700 bench-state "$work/state"

# --- A busybox-static rootfs, shared by every bundle ---------------------------------------------
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
(cd "$work" && runc spec && mv config.json spec.json)

# bundle NAME ENV_JSON_ARRAY [hooks CONFIG]: a bundle whose config.json is padded to ~8 KiB with
# ordinary environment variables (what a real image's config carries), root -> the shared rootfs.
bundle() {
  local b="$work/$1" env="$2" cfg="${3:-}"
  mkdir -p "$b"
  jq --argjson env "$env" --arg hook "$hook" --arg cfg "$cfg" --arg root "$work/rootfs" '
    .process.terminal = false
    | .process.args = ["true"]
    | .process.env += $env
    | .root = {path: $root, readonly: false}
    | if $cfg == "" then . else .hooks = {
        "prestart": [{"path": $hook, "args": ["dvdi-hook", "--config", $cfg, "prestart"],
                      "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "timeout": 60}],
        "poststop": [{"path": $hook, "args": ["dvdi-hook", "--config", $cfg, "poststop"],
                      "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "timeout": 60}]} end' \
    "$work/spec.json" >"$b/config.json"
  local i=0
  while [ "$(stat -c %s "$b/config.json")" -lt 8000 ]; do
    jq --arg v "APP_SETTING_$i=$(printf 'x%.0s' {1..100})" '.process.env += [$v]' "$b/config.json" >"$b/c.new"
    mv "$b/c.new" "$b/config.json"
    i=$((i + 1))
  done
}
# state FILE ID PID BUNDLE STATUS: the OCI state a runtime gives a hook on stdin.
state() {
  jq -n --arg id "$2" --argjson pid "$3" --arg bundle "$4" --arg status "$5" \
    '{ociVersion: "1.0.2", id: $id, status: $status, pid: $pid, bundle: $bundle,
      annotations: {"io.container.manager": "bench", "org.opencontainers.image.stopSignal": "SIGTERM"}}' >"$1"
}
# node FILE DEFAULT_DRIVER: a node config with everything in the temp dir.
node() {
  jq -n --arg w "$work" --arg d "$2" \
    '{default_driver: $d, state_dir: ($w + "/state"), data_dir: ($w + "/data"), syslog: false,
      plugin_socket_dirs: [($w + "/plugins")], plugin_spec_dirs: [($w + "/specs")]}' >"$1"
}
node "$work/node.json" local

# A process in its own mount namespace stands in for a container's init.
unshare -m --propagation private sleep 100000 &
ctr_pid=$!
pids+=("$ctr_pid")

# --- 1. The no-volume path -------------------------------------------------------------------------
say "1. no-volume prestart vs busybox true (N=$n_exec)"
bundle novol '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","HOME=/root","LANG=C.UTF-8"]'
state "$work/state-novol.json" "$(printf 'a%.0s' {1..64})" "$ctr_pid" "$work/novol" creating
jq -n --arg hook "$hook" --arg cfg "$work/node.json" --arg st "$work/state-novol.json" '[
  {label: "noop_busybox_true", argv: ["/bin/busybox", "true"], stdin: $st},
  {label: "hook_prestart_novolume", argv: [$hook, "--config", $cfg, "prestart"], stdin: $st}]' >"$work/s1.json"
$timer "$work/s1.json" "$n_exec" >"$work/res/1.json"

# --- 2. One and ten volumes through the test plugin --------------------------------------------
say "2. prestart/poststop with 1 and 10 plugin volumes (N=$n_exec)"
"$plugin_bin" --root "$work/pvols" --socket "$work/plugins/bench.sock" --ready "$work/plugin.ready" \
  --record "$work/plugin.record" &
pids+=("$!")
for _ in $(seq 100); do [ -s "$work/plugin.ready" ] && break; sleep 0.05; done
env1='["DVDI_VOLUME_NAME=bv0","DVDI_VOLUME_DRIVER=bench","DVDI_VOLUME_CONTAINERPATH=/data0"]'
env10=$(jq -n '[range(0;10) as $i | (if $i == 0 then "" else ($i|tostring) end) as $s |
  "DVDI_VOLUME_NAME\($s)=bv\($i)", "DVDI_VOLUME_DRIVER\($s)=bench", "DVDI_VOLUME_CONTAINERPATH\($s)=/data\($i)"]')
summary_plugin='{}'
for v in 1 10; do
  envv=env$v
  bundle "vol$v" "${!envv}"
  state "$work/state-vol$v-pre.json" "bench-vol$v" "$ctr_pid" "$work/vol$v" creating
  state "$work/state-vol$v-post.json" "bench-vol$v" "$ctr_pid" "$work/vol$v" stopped
  # One warm-up round, recorded: which plugin calls does a prestart and a poststop make?
  : >"$work/plugin.record"
  "$hook" --config "$work/node.json" prestart <"$work/state-vol$v-pre.json"
  split=$(grep -c '"method"' "$work/plugin.record" || true)
  "$hook" --config "$work/node.json" poststop <"$work/state-vol$v-post.json"
  cp "$work/plugin.record" "$work/record-vol$v"
  jq -n --arg hook "$hook" --arg cfg "$work/node.json" --arg pre "$work/state-vol$v-pre.json" \
    --arg post "$work/state-vol$v-post.json" --arg v "$v" '[
    {label: "hook_prestart_\($v)vol", argv: [$hook, "--config", $cfg, "prestart"], stdin: $pre},
    {label: "hook_poststop_\($v)vol", argv: [$hook, "--config", $cfg, "poststop"], stdin: $post}]' >"$work/s2-$v.json"
  $timer "$work/s2-$v.json" "$n_exec" >"$work/res/2-$v.json"
  /usr/bin/python3 "$repo/bench/plugin_calls.py" "$work/plugins/bench.sock" "$work/record-vol$v" "$split" \
    "$n_exec" >"$work/res/2-$v-plugin.json"
done
# --- 4b. The same job as a shell hook (jq, curl --unix-socket, nsenter + mount), 1 volume -------
say "4b. shell hook (bench/shell-hook.sh) prestart/poststop, 1 plugin volume (N=$n_fill)"
state "$work/state-shell-pre.json" "bench-shell" "$ctr_pid" "$work/vol1" creating
state "$work/state-shell-post.json" "bench-shell" "$ctr_pid" "$work/vol1" stopped
jq -n --arg sh "$repo/bench/shell-hook.sh" --arg d "$work/plugins" --arg pre "$work/state-shell-pre.json" \
  --arg post "$work/state-shell-post.json" '[
  {label: "shell_hook_prestart_1vol", argv: ["/bin/bash", $sh, $d, "prestart"], stdin: $pre},
  {label: "shell_hook_poststop_1vol", argv: ["/bin/bash", $sh, $d, "poststop"], stdin: $post}]' >"$work/s4.json"
$timer "$work/s4.json" "$n_fill" >"$work/res/4.json"

# --- 5b. The hook's time with 10, 100, 1000, 10000 volumes already recorded --------------------
# The state after one prestart of one volume is the template: K more volumes, each held by its
# own container record (same live process, so nothing is garbage), are added with jq to a
# version-1 state.json, which the first hook (`list`, untimed) takes into the node's store.
say "5b. prestart/poststop of 1 volume with 10, 100, 1000, 10000 volumes already recorded (N=$n_fill)"
# The node's state as a version-1 file: what `list --json` shows is what the template needs.
reset_state() { rm -f "$work/state"/state.json "$work/state"/state.db "$work/state"/state.db-* "$work/state"/state.json.*; }
"$hook" --config "$work/node.json" prestart <"$work/state-vol1-pre.json"
"$hook" --config "$work/node.json" list --json | jq '{version: 1, volumes: .volumes, containers: .containers}' \
  >"$work/state-template.json"
"$hook" --config "$work/node.json" poststop <"$work/state-vol1-post.json"
for k in 10 100 1000 10000; do
  jq --argjson k "$k" '
    .volumes[0] as $v | .containers[0] as $c
    | .volumes += [range(0; $k) as $i | $v | .name = "fill\($i)" | .mount_id = "fill-mount-\($i)"
                   | .users = ["fill-ctr-\($i)"]]
    | .containers += [range(0; $k) as $i | $c | .id = "fill-ctr-\($i)"
                   | .volumes = [.volumes[0] | .name = "fill\($i)"]]
    | .volumes |= map(select(.name != $v.name)) | .containers |= map(select(.id != $c.id))' \
    "$work/state-template.json" >"$work/state-fill$k.json"
  reset_state
  cp "$work/state-fill$k.json" "$work/state/state.json"
  "$hook" --config "$work/node.json" list >/dev/null
  jq -n --arg hook "$hook" --arg cfg "$work/node.json" --arg pre "$work/state-vol1-pre.json" \
    --arg post "$work/state-vol1-post.json" --arg k "$k" '[
    {label: "hook_prestart_1vol_fill\($k)", argv: [$hook, "--config", $cfg, "prestart"], stdin: $pre},
    {label: "hook_poststop_1vol_fill\($k)", argv: [$hook, "--config", $cfg, "poststop"], stdin: $post}]' >"$work/s5-$k.json"
  $timer "$work/s5-$k.json" "$n_fill" >"$work/res/5-$k.json"
  "$hook" --config "$work/node.json" list --json | jq -c '{volumes: (.volumes | length), containers: (.containers | length)}' >&2
done
reset_state

# Peak RSS with GNU time (%M, KiB; the largest of 5 runs). (wait4's ru_maxrss of a
# posix_spawn'ed child counts the spawning Python's pages, so the timer's own figure is not used.)
rss() { # LABEL STDIN ARGS...
  local label=$1 in=$2 max=0 v
  shift 2
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%M' -o "$work/rss.tmp" "$@" <"$in" >/dev/null 2>&1 || true
    v=$(tail -1 "$work/rss.tmp")
    [ "$v" -gt "$max" ] && max=$v
    [ "$label" = noop ] || [ "$label" = novol ] ||
      "$hook" --config "$work/node.json" poststop <"$work/state-$label-post.json" >/dev/null 2>&1
  done
  jq -n --arg l "$label" --argjson v "$max" '{($l): $v}' >"$work/res/rss-$label.json"
}
rss noop "$work/state-novol.json" /bin/busybox true
rss novol "$work/state-novol.json" "$hook" --config "$work/node.json" prestart
rss vol1 "$work/state-vol1-pre.json" "$hook" --config "$work/node.json" prestart
rss vol10 "$work/state-vol10-pre.json" "$hook" --config "$work/node.json" prestart

# --- 3. Whole containers with runc -----------------------------------------------------------------
say "3. runc run: no hook, hook without volume, hook with one local volume (N=$n_ctr)"
bundle plain '["PATH=/bin"]'
bundle hooknovol '["PATH=/bin"]' "$work/node.json"
bundle hooklocal '["PATH=/bin","DVDI_VOLUME_NAME=benchlocal","DVDI_VOLUME_DRIVER=local","DVDI_VOLUME_CONTAINERPATH=/data"]' \
  "$work/node.json"
jq -n --arg w "$work" '[
  {label: "runc_run_plain", argv: ["/usr/sbin/runc", "--root", ($w + "/runc"), "run", "--bundle", ($w + "/plain"), "bench-plain"]},
  {label: "runc_run_hook_novolume", argv: ["/usr/sbin/runc", "--root", ($w + "/runc"), "run", "--bundle", ($w + "/hooknovol"), "bench-novol"]},
  {label: "runc_run_hook_local_volume", argv: ["/usr/sbin/runc", "--root", ($w + "/runc"), "run", "--bundle", ($w + "/hooklocal"), "bench-local"]}]' >"$work/s3.json"
$timer "$work/s3.json" "$n_ctr" >"$work/res/3.json"

# --- 5a. Many containers at once: 64 on one shared plugin volume, 64 on 64 volumes ---------------
# Detached runc containers (their process sleeps) started all at the same instant, then deleted
# all at once (poststop runs in `runc delete`), against the same containers without the hook.
say "5a. $scale runc containers started at once: no hook; hook + one shared volume; hook + $scale volumes (rounds=$n_scale)"
mkdir -p "$work/rootfs/data"
scale_bundle() { # DIR ENV_JSON_ARRAY HOOKED(0/1)
  mkdir -p "$1"
  jq --argjson env "$2" --arg hook "$hook" --arg cfg "$work/node.json" --arg root "$work/rootfs" --argjson h "$3" '
    .process.terminal = false | .process.args = ["sleep", "100000"] | .process.env += $env
    | .root = {path: $root, readonly: false}
    | if $h == 0 then . else .hooks = {
        "prestart": [{"path": $hook, "args": ["dvdi-hook", "--config", $cfg, "prestart"],
                      "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "timeout": 120}],
        "poststop": [{"path": $hook, "args": ["dvdi-hook", "--config", $cfg, "poststop"],
                      "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "timeout": 120}]} end' \
    "$work/spec.json" >"$1/config.json"
}
for i in $(seq 0 $((scale - 1))); do
  scale_bundle "$work/scale/plain$i" '["PATH=/bin"]' 0
  scale_bundle "$work/scale/shared$i" '["PATH=/bin","DVDI_VOLUME_NAME=shared","DVDI_VOLUME_DRIVER=bench","DVDI_VOLUME_CONTAINERPATH=/data"]' 1
  scale_bundle "$work/scale/many$i" "[\"PATH=/bin\",\"DVDI_VOLUME_NAME=many$i\",\"DVDI_VOLUME_DRIVER=bench\",\"DVDI_VOLUME_CONTAINERPATH=/data\"]" 1
done
for c in plain shared many; do
  jq -n --arg d "$work/scale" --arg c "$c" --argjson n "$scale" \
    '{label: "scale_\($c)", bundles: [range(0; $n) as $i | "\($d)/\($c)\($i)"]}' >"$work/scale-$c.json"
done
/usr/bin/python3 "$repo/bench/scale.py" "$work/runc" "$work/plugin.record" "$n_scale" \
  "$work/scale-plain.json" "$work/scale-shared.json" "$work/scale-many.json" >"$work/res/scale.json"
jq -c 'to_entries[] | {(.key): {start: .value.start_wall_ms.median, stop: .value.stop_wall_ms.median,
  mounts: .value.mount_calls, unmounts: .value.unmount_calls, failures: .value.failures}}' "$work/res/scale.json" >&2

# --- 4a. podman: its own volume-plugin support against dvdi-hook's hooks.d files -------------------
# podman keeps everything (storage, runroot, containers.conf) in the temp dir; vfs, cgroupfs, runc.
say "4a. podman run: plain, own plugin volume (-v), dvdi-hook hooks.d + DVDI_VOLUME_* (N=$n_ctr)"
pd="$work/podman"
mkdir -p "$pd/hooks.d" "$pd/nohooks"
printf '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n\n[engine.volume_plugins]\nbench = "%s"\n' \
  "$work/plugins/bench.sock" >"$pd/containers.conf"
for st in prestart poststop; do
  jq -n --arg hook "$hook" --arg cfg "$work/node.json" --arg st "$st" '{version: "1.0.0",
    hook: {path: $hook, args: ["dvdi-hook", "--config", $cfg, $st], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 60},
    when: {always: true}, stages: [$st]}' >"$pd/hooks.d/dvdi-hook-$st.json"
done
podman_argv() { # HOOKS_DIR: the podman command line as a JSON array, up to `run` options
  jq -n --arg pd "$pd" --arg hd "$1" '["/usr/bin/podman", "--root", ($pd + "/root"), "--runroot", ($pd + "/runroot"),
    "--tmpdir", ($pd + "/tmp"), "--storage-driver", "vfs", "--cgroup-manager=cgroupfs", "--runtime", "runc",
    "--hooks-dir", $hd]'
}
export CONTAINERS_CONF="$pd/containers.conf"
tar -C "$work/rootfs" -cf "$pd/rootfs.tar" .
pm=$(podman_argv "$pd/nohooks")
pmh=$(podman_argv "$pd/hooks.d")
jq -r '.[]' <<<"$pm" | xargs -d '\n' sh -c '"$@" import "$0" localhost/dvdi-bench:1 >/dev/null 2>&1' "$pd/rootfs.tar"
jq -r '.[]' <<<"$pm" | xargs -d '\n' sh -c '"$@" volume create --driver bench bvp >/dev/null' _
run_opts='["run", "--rm", "--net", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]'
jq -n --argjson pm "$pm" --argjson pmh "$pmh" --argjson ro "$run_opts" --arg c "$CONTAINERS_CONF" '[
  {label: "podman_run_plain", argv: ($pm + $ro + ["localhost/dvdi-bench:1", "true"])},
  {label: "podman_run_own_plugin_volume", argv: ($pm + $ro + ["-v", "bvp:/data", "localhost/dvdi-bench:1", "true"])},
  {label: "podman_run_dvdi_hook_plugin_volume", argv: ($pmh + $ro + ["-e", "DVDI_VOLUME_NAME=bvh",
    "-e", "DVDI_VOLUME_DRIVER=bench", "-e", "DVDI_VOLUME_CONTAINERPATH=/data", "localhost/dvdi-bench:1", "true"])}]' >"$work/s4a.json"
$timer "$work/s4a.json" "$n_ctr" >"$work/res/4a.json"
: >"$work/plugin.record"
jq -r '.[]' <<<"$pm" | xargs -d '\n' sh -c '"$@" run --rm --net none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -v bvp:/data localhost/dvdi-bench:1 true >/dev/null' _
jq -r '.[]' <<<"$pmh" | xargs -d '\n' sh -c '"$@" run --rm --net none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -e DVDI_VOLUME_NAME=bvh -e DVDI_VOLUME_DRIVER=bench -e DVDI_VOLUME_CONTAINERPATH=/data localhost/dvdi-bench:1 true >/dev/null' _
echo "plugin calls of one podman -v run then one dvdi-hook run:" >&2
jq -r 'select(.method) | .method' "$work/plugin.record" | tr '\n' ' ' >&2
echo >&2

# --- Report ---------------------------------------------------------------------------------------
jq -n --slurpfile a "$work/res/1.json" --slurpfile b1 "$work/res/2-1.json" --slurpfile b10 "$work/res/2-10.json" \
  --slurpfile p1 "$work/res/2-1-plugin.json" --slurpfile p10 "$work/res/2-10-plugin.json" \
  --slurpfile c "$work/res/3.json" --argjson fill "$(jq -s add "$work"/res/5-*.json "$work/res/4.json" "$work/res/4a.json")" --argjson rss "$(jq -s add "$work"/res/rss-*.json)" \
  --slurpfile scale "$work/res/scale.json" \
  --arg host "$(uname -srm), $(nproc) cpus" --arg date "$(date -u +%FT%TZ)" \
  --arg commit "$(git -C "$repo" rev-parse --short HEAD)" --argjson ne "$n_exec" --argjson nc "$n_ctr" '
  {date: $date, host: $host, commit: $commit, n_exec: $ne, n_container: $nc,
   measurements: ($a[0] + $b1[0] + $b10[0] + $c[0] + $fill),
   plugin_replay: {"1vol": $p1[0], "10vol": $p10[0]},
   gnu_time_maxrss_kib: $rss, scale: $scale[0]}' >"$out_dir/results.json"
/usr/bin/python3 "$repo/bench/report.py" "$out_dir/results.json" | tee "$out_dir/table.txt"
echo "results: $out_dir/results.json, $out_dir/table.txt" >&2
