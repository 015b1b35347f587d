#!/usr/bin/env python3
"""Load generator for scripts/bench/api.sh (a benchmark, not a test).

Three subcommands, each printing ONE result line of `key=value` pairs on stdout
(api.sh parses it) and its diagnostics on stderr:

  spawn       the baseline: N threads, each looping os.posix_spawn("/bin/sh -c echo")
              (stdout to /dev/null) + os.waitpid for DURATION seconds. The GIL is
              released in both calls, so the threads really overlap.
  roundtrips  N clients, each looping POST /sandboxes -> POST /sandboxes/{id}/exec
              {"command":"echo hi"} -> DELETE /sandboxes/{id} for DURATION seconds,
              each on its own keep-alive connection.
  streams     keeps COUNT NDJSON exec streams open on a few sandboxes until SIGTERM,
              reopening each stream as soon as its exit frame arrives.

Why the client is cheap enough to share 2 cores with the server:
  * One process, one thread, asyncio, stdlib only. Each client is a coroutine that owns
    one TCP connection (keep-alive, TCP_NODELAY), so there is no connect/TLS cost and
    no thread switching.
  * Requests are pre-formatted bytes (only the sandbox id is spliced in); responses are
    parsed just enough to be correct: the status code, Content-Length or chunked
    framing, and a substring check on the body (`"id":"`, `"exit_code":0`,
    `"stdout":"hi\\n"`). No http.client, no json on the hot path except reading the
    spawned sandbox's id.
  * It reports its own CPU time (getrusage) next to the server's (/proc/PID/stat), so a
    reader can see how much of the 2 cores the client took.
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def log(msg):
    print(f"api_load: {msg}", file=sys.stderr, flush=True)


def proc_cpu_seconds(pid):
    """utime + stime of PID (not its children) in seconds, or None."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def self_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


# --- a minimal HTTP/1.1 client over asyncio streams ---------------------------


class HTTPError(Exception):
    pass


def build_request(method, path, body=b"", port=0):
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if body or method in ("POST", "PUT"):
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def read_response(reader):
    """Reads one response: returns (status, body). Handles Content-Length and chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        j = lower.index(b"\r\n", i + 2)
        n = int(lower[i + 17:j])
        return status, (await reader.readexactly(n) if n else b"")
    if b"\r\ntransfer-encoding: chunked" in lower:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return status, b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])
    return status, b""


async def connect(port):
    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


# --- spawn: the posix_spawn baseline -------------------------------------------


def cmd_spawn(args):
    env = dict(os.environ)
    actions = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
    argv = ["/bin/sh", "-c", "echo"]
    counts = [0] * args.clients
    errors = [0] * args.clients
    start_evt = threading.Event()
    deadline = [0.0]

    def worker(k):
        start_evt.wait()
        n = e = 0
        end = deadline[0]
        while time.monotonic() < end:
            try:
                pid = os.posix_spawn("/bin/sh", argv, env, file_actions=actions)
                _, status = os.waitpid(pid, 0)
                if os.waitstatus_to_exitcode(status) != 0:
                    e += 1
                n += 1
            except OSError:
                e += 1
        counts[k], errors[k] = n, e

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    cpu0 = self_cpu_seconds()
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    deadline[0] = t0 + args.duration
    start_evt.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = sum(counts)
    print(f"rate={total / elapsed:.2f} count={total} elapsed={elapsed:.3f} errors={sum(errors)} "
          f"client_cpu={self_cpu_seconds() - cpu0:.2f} "
          f"children_cpu={(ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime):.2f}")


# --- roundtrips: spawn -> exec echo -> destroy ---------------------------------


async def roundtrip_client(port, deadline, stats):
    spawn_req = build_request("POST", "/api/v1/sandboxes", b"{}", port)
    exec_body = b'{"command":"echo hi"}'
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await connect(port)
            t = time.monotonic()
            writer.write(spawn_req)
            status, body = await read_response(reader)
            if status != 201:
                stats["errors"] += 1
                stats["last_error"] = f"spawn {status} {body[:200]!r}"
                await asyncio.sleep(0.01)
                continue
            sid = json.loads(body)["id"]
            writer.write(build_request("POST", f"/api/v1/sandboxes/{sid}/exec", exec_body, port))
            status, body = await read_response(reader)
            ok = status == 200 and b'"exit_code":0' in body and b'"stdout":"hi\\n"' in body
            if not ok:
                stats["errors"] += 1
                stats["last_error"] = f"exec {status} {body[:200]!r}"
            writer.write(build_request("DELETE", f"/api/v1/sandboxes/{sid}", b"", port))
            status, body = await read_response(reader)
            if status != 200:
                stats["errors"] += 1
                stats["last_error"] = f"destroy {status} {body[:200]!r}"
                continue
            if ok:
                stats["latencies"].append(time.monotonic() - t)
        except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as exc:
            stats["errors"] += 1
            stats["last_error"] = f"{type(exc).__name__}: {exc}"
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def roundtrips_main(args):
    stats = {"errors": 0, "latencies": [], "last_error": ""}
    cpu0, srv0 = self_cpu_seconds(), proc_cpu_seconds(args.server_pid)
    t0 = time.monotonic()
    await asyncio.gather(*(roundtrip_client(args.port, t0 + args.duration, stats)
                           for _ in range(args.clients)))
    elapsed = time.monotonic() - t0
    srv1 = proc_cpu_seconds(args.server_pid)
    lat = sorted(stats["latencies"])
    n = len(lat)
    if stats["errors"]:
        log(f"roundtrips: {stats['errors']} errors; last: {stats['last_error']}")
    server_cpu = f"{srv1 - srv0:.2f}" if srv0 is not None and srv1 is not None else "na"
    print(f"rate={n / elapsed:.2f} count={n} elapsed={elapsed:.3f} errors={stats['errors']} "
          f"p50_ms={percentile(lat, 0.5) * 1000:.2f} p99_ms={percentile(lat, 0.99) * 1000:.2f} "
          f"client_cpu={self_cpu_seconds() - cpu0:.2f} server_cpu={server_cpu}")


# --- streams: COUNT open NDJSON exec streams until SIGTERM ----------------------

STREAM_COMMAND = b'{"command":"for i in $(seq 10); do echo $i; sleep 1; done","stream":true}'


async def stream_slot(port, sid, delay, st):
    """One slot: opens a stream, reads it to its exit frame, reopens, until st['stop']."""
    await asyncio.sleep(delay)
    req = build_request("POST", f"/api/v1/sandboxes/{sid}/exec", STREAM_COMMAND, port)
    reader = writer = None
    while not st["stop"]:
        is_open = False
        try:
            if writer is None:
                reader, writer = await connect(port)
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            if status != 200 or b"chunked" not in head.lower():
                if b"content-length:" in head.lower():
                    # An error envelope: drain it so the connection stays usable.
                    lower = head.lower()
                    i = lower.index(b"content-length:")
                    n = int(lower[i + 15:lower.index(b"\r\n", i)])
                    body = await reader.readexactly(n)
                else:
                    body = b""
                st["errors"] += 1
                st["last_error"] = f"stream {status} {body[:200]!r}"
                await asyncio.sleep(0.2)
                continue
            is_open = True
            st["open"] += 1
            st["opened"] += 1
            saw_exit = False
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunk = (await reader.readexactly(size + 2))[:-2]
                st["lines"] += chunk.count(b"\n")
                if b'"stream":"exit"' in chunk:
                    saw_exit = True
                    if b'"exit_code":0' not in chunk:
                        st["errors"] += 1
                        st["last_error"] = f"exit frame {chunk[:200]!r}"
            is_open = False
            st["open"] -= 1
            if saw_exit:
                st["completed"] += 1
            else:
                st["errors"] += 1
                st["last_error"] = "stream ended without an exit frame"
        except asyncio.CancelledError:
            if is_open:
                st["open"] -= 1
            if writer is not None:
                writer.close()
            raise
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if is_open:
                st["open"] -= 1
            st["errors"] += 1
            st["last_error"] = f"{type(exc).__name__}: {exc}"
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.2)
    if writer is not None:
        writer.close()


async def simple_request(port, method, path, body=b""):
    reader, writer = await connect(port)
    try:
        writer.write(build_request(method, path, body, port))
        return await read_response(reader)
    finally:
        writer.close()


async def streams_main(args):
    loop = asyncio.get_running_loop()
    stop_evt = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_evt.set)
    n_sandboxes = -(-args.count // args.per_sandbox)
    sids = []
    st = {"stop": False, "open": 0, "opened": 0, "completed": 0, "lines": 0, "errors": 0,
          "last_error": ""}
    tasks = []
    samples = []
    try:
        for _ in range(n_sandboxes):
            status, body = await simple_request(args.port, "POST", "/api/v1/sandboxes", b"{}")
            if status != 201:
                raise SystemExit(f"api_load: cannot create a sandbox for streams: {status} {body[:200]!r}")
            sids.append(json.loads(body)["id"])
        # Stagger the first opens over one stream lifetime (RAMP seconds) so the streams
        # end, and are reopened, at a steady rate instead of all at once every 10 s.
        step = args.ramp / args.count
        tasks = [asyncio.create_task(stream_slot(args.port, sids[k % n_sandboxes], k * step, st))
                 for k in range(args.count)]
        t0 = time.monotonic()
        while st["opened"] < args.count:
            if stop_evt.is_set():
                return
            if time.monotonic() - t0 > args.ramp + 30:
                raise SystemExit(f"api_load: only {st['opened']} of {args.count} streams opened "
                                 f"(errors {st['errors']}; last: {st['last_error']})")
            await asyncio.sleep(0.02)
        log(f"{args.count} streams opened on {n_sandboxes} sandboxes in {time.monotonic() - t0:.1f}s")
        base = dict(st)
        with open(args.ready, "w") as f:
            f.write("ready\n")
        t_ready = time.monotonic()
        while not stop_evt.is_set():
            samples.append(st["open"])
            try:
                await asyncio.wait_for(stop_evt.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
        window = time.monotonic() - t_ready
    finally:
        st["stop"] = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sid in sids:
            try:
                await simple_request(args.port, "DELETE", f"/api/v1/sandboxes/{sid}")
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass
    if st["errors"]:
        log(f"streams: {st['errors']} errors; last: {st['last_error']}")
    mean = sum(samples) / len(samples) if samples else 0
    print(f"min_open={min(samples) if samples else 0} mean_open={mean:.1f} "
          f"reopened={st['opened'] - base['opened']} completed={st['completed'] - base['completed']} "
          f"lines={st['lines'] - base['lines']} errors={st['errors']} window={window:.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("spawn")
    s.add_argument("--clients", type=int, default=16)
    s.add_argument("--duration", type=float, default=10)
    r = sub.add_parser("roundtrips")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--clients", type=int, default=16)
    r.add_argument("--duration", type=float, default=10)
    r.add_argument("--server-pid", type=int, default=0)
    t = sub.add_parser("streams")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--count", type=int, default=200)
    t.add_argument("--per-sandbox", type=int, default=10,
                   help="streams per sandbox (limits.max_execs_per_sandbox defaults to 16)")
    t.add_argument("--ramp", type=float, default=10, help="seconds over which the first opens are spread")
    t.add_argument("--ready", required=True, help="file written once COUNT streams are open")
    args = p.parse_args()
    if args.cmd == "spawn":
        cmd_spawn(args)
    elif args.cmd == "roundtrips":
        asyncio.run(roundtrips_main(args))
    else:
        asyncio.run(streams_main(args))


if __name__ == "__main__":
    main()
