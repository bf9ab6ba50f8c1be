#!/usr/bin/python3
"""Starts many runc containers at once and stops them at once; prints a JSON summary.

    scale.py RUNC_ROOT PLUGIN_RECORD ROUNDS CASE.json...  ->  JSON on stdout:
        {case: {n_containers, rounds, start_wall_ms: {median, min, max}, stop_wall_ms: {...},
                mount_calls: [per round], unmount_calls: [...], failures}}

A CASE file is {"label": L, "bundles": [dir, ...]}: one detached container per bundle (its
process sleeps). One round: `runc run -d` of every bundle spawned at the same instant (the
prestart hooks run inside those), wall time until the last one returned; then `runc delete
--force` of every container at the same instant (the poststop hooks run inside those), wall
time until the last returned. PLUGIN_RECORD is the test plugin's --record file (one JSON line
per call): it is emptied before each round and the Mount and Unmount calls of the round are
counted. A round in which a runc command failed counts in `failures`. It measures; nothing here
passes or fails on time.
"""
import json
import os
import statistics
import sys
import time


def spawn_all(argvs, devnull):
    t0 = time.perf_counter_ns()
    pids = [os.posix_spawn(a[0], a, dict(os.environ), file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                                                    (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                                    (os.POSIX_SPAWN_DUP2, devnull, 2)])
            for a in argvs]
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
    return (time.perf_counter_ns() - t0) / 1e6, failed


def count_calls(record):
    counts = {"Mount": 0, "Unmount": 0}
    with open(record) as f:
        for line in f:
            method = json.loads(line).get("method", "")
            for k in counts:
                if method.endswith("VolumeDriver." + k):
                    counts[k] += 1
    return counts


def summary(v):
    return {"median": round(statistics.median(v), 3), "min": round(min(v), 3), "max": round(max(v), 3)}


def main():
    runc_root, record, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    devnull = os.open(os.devnull, os.O_RDWR)
    out = {}
    for case_file in sys.argv[4:]:
        case = json.load(open(case_file))
        label, bundles = case["label"], case["bundles"]
        ids = [f"{label}-{i}" for i in range(len(bundles))]
        starts, stops, mounts, unmounts, failures = [], [], [], [], 0
        for _ in range(rounds):
            open(record, "w").close()
            ms, failed = spawn_all(
                [["/usr/sbin/runc", "--root", runc_root, "run", "-d", "--bundle", b, i] for b, i in zip(bundles, ids)],
                devnull)
            starts.append(ms)
            mid = count_calls(record)
            ms2, failed2 = spawn_all([["/usr/sbin/runc", "--root", runc_root, "delete", "--force", i] for i in ids],
                                     devnull)
            stops.append(ms2)
            end = count_calls(record)
            mounts.append(mid["Mount"])
            unmounts.append(end["Unmount"])
            failures += (failed + failed2) > 0
        out[label] = {"n_containers": len(bundles), "rounds": rounds, "start_wall_ms": summary(starts),
                      "stop_wall_ms": summary(stops), "mount_calls": mounts, "unmount_calls": unmounts,
                      "failures": failures}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
