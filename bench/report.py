#!/usr/bin/python3
"""Prints the table for a bench/run.sh results.json (and the derived ratios and shares)."""
import json
import sys

r = json.load(open(sys.argv[1]))
m = r["measurements"]
p = r["plugin_replay"]


def row(label, key):
    s = m.get(key)
    if s is None:
        return
    print(f"{label:<44} {s['median_ms']:>9.3f} {s['p10_ms']:>9.3f} {s['p90_ms']:>9.3f} {s['n']:>5} {s['failures']:>4}")


print(f"dvdi-hook benchmarks, {r['date']}, {r['host']}, commit {r['commit']}")
print(f"{'measurement (exec to exit)':<44} {'median':>9} {'p10':>9} {'p90':>9} {'N':>5} {'fail':>4}")
row("busybox true (static no-op)", "noop_busybox_true")
row("prestart, no volume (8 KiB config.json)", "hook_prestart_novolume")
for v in ("1", "10"):
    row(f"prestart, {v} plugin volume(s)", f"hook_prestart_{v}vol")
    row(f"poststop, {v} plugin volume(s)", f"hook_poststop_{v}vol")
row("shell hook prestart, 1 plugin volume", "shell_hook_prestart_1vol")
row("shell hook poststop, 1 plugin volume", "shell_hook_poststop_1vol")
row("podman run, no hook, no volume", "podman_run_plain")
row("podman run -v (podman's plugin support)", "podman_run_own_plugin_volume")
row("podman run, dvdi-hook hooks.d, DVDI_VOLUME_*", "podman_run_dvdi_hook_plugin_volume")
for k in ("10", "100", "1000", "10000"):
    row(f"prestart, 1 vol, {k} already in state", f"hook_prestart_1vol_fill{k}")
    row(f"poststop, 1 vol, {k} already in state", f"hook_poststop_1vol_fill{k}")
row("runc run busybox true, no hook", "runc_run_plain")
row("runc run, hook, no volume", "runc_run_hook_novolume")
row("runc run, hook, one local volume", "runc_run_hook_local_volume")

print()
print("derived (medians)                                         value   target")
noop, novol = m["noop_busybox_true"]["median_ms"], m["hook_prestart_novolume"]["median_ms"]
print(f"{'no-volume prestart / busybox true':<52} {novol / noop:>9.2f}x  <= 1.10x")
for st in ("prestart", "poststop"):
    base = m.get(f"hook_{st}_1vol_fill10")
    for k in ("100", "1000", "10000"):
        s = m.get(f"hook_{st}_1vol_fill{k}")
        if base and s:
            print(f"{f'{st} 1 vol: {k} recorded / 10 recorded':<52} {s['median_ms'] / base['median_ms']:>9.2f}x"
                  f"{'  <= 1.3x' if k == '10000' else ''}")
for v, target in (("1", 0.5), ("10", 1.5)):
    rep = p[f"{v}vol"]
    for stage, part in (("prestart", "first_ms"), ("poststop", "second_ms")):
        total = m[f"hook_{stage}_{v}vol"]["median_ms"]
        plug = rep[part]
        own = total - plug - noop
        print(f"{f'{stage} {v} vol: plugin calls (replayed, ms)':<52} {plug:>9.3f}")
        print(f"{f'{stage} {v} vol: own share = total - plugin - exec (ms)':<52} {own:>9.3f}   <= {target} ms")
        print(f"{f'{stage} {v} vol: own share incl. exec (ms)':<52} {total - plug:>9.3f}")
rss = r["gnu_time_maxrss_kib"]
for k, label in (("noop", "busybox true"), ("novol", "prestart, no volume"), ("vol1", "prestart, 1 volume"),
                 ("vol10", "prestart, 10 volumes")):
    print(f"{f'peak RSS (GNU time %M, max of 5), {label} (MiB)':<52} {rss[k] / 1024:>9.2f}   <= 8 MiB")
if "shell_hook_prestart_1vol" in m:
    for st in ("prestart", "poststop"):
        print(f"{f'shell hook / dvdi-hook, {st} 1 volume':<52} "
              f"{m[f'shell_hook_{st}_1vol']['median_ms'] / m[f'hook_{st}_1vol']['median_ms']:>9.2f}x")
if "podman_run_plain" in m:
    pp = m["podman_run_plain"]["median_ms"]
    own = m["podman_run_own_plugin_volume"]["median_ms"]
    dv = m["podman_run_dvdi_hook_plugin_volume"]["median_ms"]
    print(f"{'podman: dvdi-hook volume / podman -v plugin volume':<52} {dv / own:>9.2f}x")
    print(f"{'podman: added by podman -v plugin volume':<52} {100 * (own - pp) / pp:>8.1f}%")
    print(f"{'podman: added by dvdi-hook plugin volume':<52} {100 * (dv - pp) / pp:>8.1f}%")
plain = m["runc_run_plain"]["median_ms"]
for key, label in (("runc_run_hook_novolume", "runc run: added by hook, no volume"),
                   ("runc_run_hook_local_volume", "runc run: added by hook, one local volume")):
    print(f"{label:<52} {100 * (m[key]['median_ms'] - plain) / plain:>8.1f}%   <= 5%")
sc = r.get("scale")
if sc:
    print()
    n = sc["scale_plain"]["n_containers"]
    print(f"{n} runc containers at once (wall ms, median of {sc['scale_plain']['rounds']} rounds)"
          "          start      stop  Mount calls/round  Unmount calls/round  failed rounds")
    for key, label in (("scale_plain", "no hook"), ("scale_shared", "hook, all on one plugin volume"),
                       ("scale_many", f"hook, {n} plugin volumes")):
        c = sc[key]
        print(f"{label:<52} {c['start_wall_ms']['median']:>9.1f} {c['stop_wall_ms']['median']:>9.1f} "
              f"{'/'.join(map(str, sorted(set(c['mount_calls'])))):>18} "
              f"{'/'.join(map(str, sorted(set(c['unmount_calls'])))):>20} {c['failures']:>14}")
    plain = sc["scale_plain"]["start_wall_ms"]["median"]
    for key, label in (("scale_shared", "one volume"), ("scale_many", f"{n} volumes")):
        added = sc[key]["start_wall_ms"]["median"] - plain
        print(f"{f'start: added by the hook, {label}, per container (ms)':<52} {added / n:>9.2f}")
