#!/usr/bin/python3
"""Times commands from exec to exit, many times, and prints a JSON summary.

    timer.py SPEC.json N  ->  JSON on stdout: {label: {n, median_ms, p10_ms, p90_ms, min_ms,
                                                        max_ms, maxrss_kib_max, failures}}

SPEC is a list of steps [{"label": L, "argv": [...], "stdin": FILE or null, "env": {...} or
null, "skip": bool}]. One round runs every step once, in order (so a prestart can be followed by
its poststop); N rounds. Each step is started with posix_spawn (vfork+exec, no shell) and reaped
with wait4, so the time is from the spawn to the exit of that process. (maxrss_kib_max is wait4's
ru_maxrss, which for a vfork-based spawn includes this Python's own pages: run.sh takes peak RSS
from GNU time instead.) Steps with "skip": true run but are not reported (set-up steps).
A benchmark measures; nothing here passes or fails on time.
"""
import json
import os
import statistics
import sys
import time


def pct(sorted_v, p):
    if not sorted_v:
        return None
    k = (len(sorted_v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (k - lo)


def run_once(step, devnull):
    stdin_fd = os.open(step["stdin"], os.O_RDONLY) if step.get("stdin") else os.open(os.devnull, os.O_RDONLY)
    env = dict(os.environ)
    env.update(step.get("env") or {})
    actions = [(os.POSIX_SPAWN_DUP2, stdin_fd, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)]
    if not step.get("show_stderr"):
        actions.append((os.POSIX_SPAWN_DUP2, devnull, 2))
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(step["argv"][0], step["argv"], env, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    os.close(stdin_fd)
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status), ru.ru_maxrss


def main():
    steps = json.load(open(sys.argv[1]))
    n = int(sys.argv[2])
    devnull = os.open(os.devnull, os.O_WRONLY)
    times = {s["label"]: [] for s in steps}
    rss = {s["label"]: 0 for s in steps}
    fails = {s["label"]: 0 for s in steps}
    for _ in range(n):
        for s in steps:
            ms, code, maxrss = run_once(s, devnull)
            if code != 0:
                fails[s["label"]] += 1
            times[s["label"]].append(ms)
            rss[s["label"]] = max(rss[s["label"]], maxrss)
    out = {}
    for s in steps:
        if s.get("skip"):
            continue
        v = sorted(times[s["label"]])
        out[s["label"]] = {
            "n": len(v),
            "median_ms": round(statistics.median(v), 4),
            "p10_ms": round(pct(v, 0.1), 4),
            "p90_ms": round(pct(v, 0.9), 4),
            "min_ms": round(v[0], 4),
            "max_ms": round(v[-1], 4),
            "maxrss_kib_max": rss[s["label"]],
            "failures": fails[s["label"]],
        }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
