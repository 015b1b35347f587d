#!/usr/bin/env python3
"""scripts/bench/workers.sh (b): spawn -> destroy round trips against two control planes, interleaved.

    workers_spawn.py --target NAME=PORT --target NAME=PORT --api-key KEY [--iterations N] [--warmup N]

One keep-alive http.client connection per control plane. Each iteration runs one round trip on
every target, alternating which goes first: POST /api/v1/sandboxes (mock provider, expects 201),
then DELETE /api/v1/sandboxes/{id} (expects 200), timed with time.perf_counter from the first byte
sent to the last byte read. Prints one line per target:
    NAME n=N p50_ms=.. p99_ms=.. spawn_p50_ms=.. destroy_p50_ms=.. worker=ID
Exits 1 on any unexpected status.
"""
import argparse
import http.client
import json
import sys
import time

BODY = json.dumps({"image": "alpine:latest", "provider": "mock", "ttl": "5m"})


def pct(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))  # nearest rank
    return s[int(k)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", action="append", required=True, help="NAME=PORT")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    args = ap.parse_args()

    headers = {"Content-Type": "application/json", "X-API-Key": args.api_key}
    targets = []
    for spec in args.target:
        name, port = spec.split("=", 1)
        targets.append({"name": name, "conn": http.client.HTTPConnection("127.0.0.1", int(port), timeout=30),
                        "total": [], "spawn": [], "destroy": [], "workers": set()})

    def round_trip(t):
        c = t["conn"]
        start = time.perf_counter()
        c.request("POST", "/api/v1/sandboxes", body=BODY, headers=headers)
        r = c.getresponse()
        body = r.read()
        if r.status != 201:
            sys.exit(f"{t['name']}: spawn answered {r.status}: {body[:300]!r}")
        spawned = time.perf_counter()
        sandbox = json.loads(body)
        c.request("DELETE", "/api/v1/sandboxes/" + sandbox["id"], headers=headers)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"{t['name']}: destroy of {sandbox['id']} answered {r.status}: {body[:300]!r}")
        end = time.perf_counter()
        return (end - start) * 1000, (spawned - start) * 1000, (end - spawned) * 1000, sandbox.get("worker_id")

    for i in range(args.warmup + args.iterations):
        order = targets if i % 2 == 0 else list(reversed(targets))
        for t in order:
            total, spawn, destroy, worker = round_trip(t)
            if i >= args.warmup:
                t["total"].append(total)
                t["spawn"].append(spawn)
                t["destroy"].append(destroy)
                t["workers"].add(worker or "-")

    for t in targets:
        print(f"{t['name']} n={len(t['total'])} p50_ms={pct(t['total'], 50):.3f} p99_ms={pct(t['total'], 99):.3f}"
              f" spawn_p50_ms={pct(t['spawn'], 50):.3f} destroy_p50_ms={pct(t['destroy'], 50):.3f}"
              f" worker={','.join(sorted(t['workers']))}")


if __name__ == "__main__":
    main()
