#!/usr/bin/python3
"""Times the plugin calls a hook made, without the hook: replays them straight to the plugin.

    plugin_calls.py SOCKET RECORD_FILE SPLIT N  ->  JSON {"first_ms": ..., "second_ms": ...,
                                                       "calls_first": k, "calls_second": m}

RECORD_FILE holds the JSON lines the test plugin recorded (--record) for one prestart followed
by one poststop (a line per call and one per end of a call); the first SPLIT calls are the
prestart's. Each round replays every call in order, each on a new connection over the unix
socket (HTTP/1.1 POST, as the hook sends), and times the prestart part and the poststop part;
the medians over N rounds are what the plugin (and the unix socket round trip) cost the hook.
The client is Python, so this is an upper bound of the plugin's share, and "hook total minus
this" a lower bound of the hook's own share.
"""
import json
import socket
import statistics
import sys
import time


def call(sock_path, method, body):
    data = body if isinstance(body, str) else json.dumps(body)
    data = data.encode()
    req = (f"POST /{method} HTTP/1.1\r\nHost: plugin\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(req)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf


def main():
    sock_path, record, split, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    # The record also has a line for the end of each call (no "method"): only the calls count.
    calls = [c for c in (json.loads(l) for l in open(record) if l.strip()) if "method" in c]
    first, second = calls[:split], calls[split:]
    t_first, t_second = [], []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        for c in first:
            call(sock_path, c["method"], c["body"])
        t1 = time.perf_counter_ns()
        for c in second:
            call(sock_path, c["method"], c["body"])
        t2 = time.perf_counter_ns()
        t_first.append((t1 - t0) / 1e6)
        t_second.append((t2 - t1) / 1e6)
    json.dump({"first_ms": round(statistics.median(t_first), 4), "second_ms": round(statistics.median(t_second), 4),
               "calls_first": len(first), "calls_second": len(second),
               "methods_first": [c["method"] for c in first], "methods_second": [c["method"] for c in second]},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
