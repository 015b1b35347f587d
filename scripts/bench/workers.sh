#!/usr/bin/env bash
# bench/workers.sh: the remote-worker targets of issue 5 ("Speed"). A benchmark, not a test:
# release build, one run, figures and a verdict per target; exits 0 even when a target is missed
# (BENCH_STRICT=1 makes a miss exit 1). Not part of scripts/test.sh or CI.
#
#   (a) Heartbeat flood: HB_WORKERS (10,000) simulated workers, bench-00000 ... bench-09999, each
#       with its own epoch and started_at (protocol_version 2 bodies as in workers.md §4), all on
#       the control plane's shared auth.worker_token, sent by ONE wrk process over HB_CONNECTIONS
#       (1,000) keep-alive connections for HB_DURATION (30) s against a release control plane on
#       SQLite (mock provider, embedded worker on). Reports accepted (HTTP 200) heartbeats/s,
#       p50/p99 latency (wrk --latency, timeout raised so slow answers are counted, not dropped),
#       non-200 answers and socket errors, the CPU seconds of server and load generator, then
#       checks durability: GET /api/v1/workers lists all 10,000 with a last_heartbeat inside the
#       measured run, and (with sqlite3) so does the database file after the server has stopped.
#       A second, short run at HB_PROBE_CONNECTIONS (16) separates per-heartbeat cost from
#       queueing (a closed loop of C connections at R requests/s waits C / R on average).
#       Target: >= 5,000 accepted/s with p99 <= 50 ms.
#   (b) Spawn -> destroy through a real `stacyvm worker` on loopback vs the embedded worker, same
#       run: two control planes, one with server.local_worker.enabled=false and one worker
#       process (shared token, 1 s heartbeats), one with only its embedded worker; both mock.
#       scripts/bench/workers_spawn.py alternates round trips between them on one keep-alive
#       connection each: SPAWN_ITERATIONS (300) after SPAWN_WARMUP (30) per control plane.
#       Target: remote p50 - embedded p50 <= 2 ms.
#   (c) Placement among 10,000 registered workers: stacyvm-worker-bench times RANK_CALLS (1,000)
#       calls of Scheduler.rank over 10,000 snapshots with varied capacity, usage and state, and
#       the same with the snapshot-table copy WorkerPlacement.place makes first. Target: p99 <= 1 ms
#       (of rank alone; the copy figure is printed beside it).
#
# Everything shares the machine's cores: on 2 cores, wrk takes one while the control plane's
# libmicrohttpd event thread does its work on the other.
#
# Environment:
#   STACYVM_BIN, WORKER_BENCH_BIN   binaries to use; default: swift build -c release of
#                    stacyvm and stacyvm-worker-bench
#   BENCH_SCRATCH    swift build --scratch-path (default: $ROOT/.build)
#   BUILD_LOCK       a file: run swift build under `flock FILE` (shared build machines)
#   BASE_PORT        control planes and the worker listen on BASE_PORT..BASE_PORT+3 (default 18400)
#   HB_WORKERS, HB_CONNECTIONS, HB_THREADS, HB_DURATION, HB_WARMUP   (a): 10000, 1000, 1, 30, 5
#   HB_PROBE_CONNECTIONS, HB_PROBE_DURATION   (a) low-concurrency probe: 16, 10 (0 = skip)
#   SPAWN_ITERATIONS, SPAWN_WARMUP            (b): 300, 30
#   RANK_WORKERS, RANK_CALLS                  (c): 10000, 1000
#   BENCH_STRICT     1 = exit 1 when a target is missed (default: report only)
#   KEEP_TMP         1 = keep the temp directory (configs, logs, wrk output, database)
#
# Needs wrk, curl and python3 (Debian: apt-get install -y wrk curl python3); sqlite3 optional.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_DIR="$ROOT/scripts/bench"
BASE_PORT="${BASE_PORT:-18400}"
HB_WORKERS="${HB_WORKERS:-10000}"
HB_CONNECTIONS="${HB_CONNECTIONS:-1000}"
HB_THREADS="${HB_THREADS:-1}"
HB_DURATION="${HB_DURATION:-30}"
HB_WARMUP="${HB_WARMUP:-5}"
HB_PROBE_CONNECTIONS="${HB_PROBE_CONNECTIONS:-16}"
HB_PROBE_DURATION="${HB_PROBE_DURATION:-10}"
SPAWN_ITERATIONS="${SPAWN_ITERATIONS:-300}"
SPAWN_WARMUP="${SPAWN_WARMUP:-30}"
RANK_WORKERS="${RANK_WORKERS:-10000}"
RANK_CALLS="${RANK_CALLS:-1000}"

say() { printf 'bench/workers: %s\n' "$*"; }
die() { printf 'bench/workers: error: %s\n' "$*" >&2; exit 2; }

for v in BASE_PORT HB_WORKERS HB_CONNECTIONS HB_THREADS HB_DURATION HB_WARMUP HB_PROBE_CONNECTIONS HB_PROBE_DURATION \
  SPAWN_ITERATIONS SPAWN_WARMUP RANK_WORKERS RANK_CALLS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
for v in HB_WORKERS HB_CONNECTIONS HB_THREADS HB_DURATION SPAWN_ITERATIONS RANK_WORKERS RANK_CALLS; do
  [ "${!v}" -ge 1 ] || die "$v must be at least 1"
done
[ "$HB_CONNECTIONS" -le 1000 ] || die "HB_CONNECTIONS is at most 1000 (the issue's bound; server.max_connections is 1024)"
[ "$HB_WORKERS" -le 100000 ] || die "HB_WORKERS is at most 100000 (IDs are bench-NNNNN)"

MISSING=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null 2>&1 || MISSING+=("$tool"); done
[ "${#MISSING[@]}" -eq 0 ] || die "missing: ${MISSING[*]} (Debian: apt-get install -y wrk curl python3)"
for f in workers_heartbeat.lua workers_spawn.py; do [ -f "$BENCH_DIR/$f" ] || die "missing $BENCH_DIR/$f"; done

# --- binaries --------------------------------------------------------------------
SCRATCH="${BENCH_SCRATCH:-$ROOT/.build}"
swift_build() {
  if [ -n "${BUILD_LOCK:-}" ]; then
    command -v flock >/dev/null 2>&1 || die "BUILD_LOCK is set but flock is missing"
    (cd "$ROOT" && flock "$BUILD_LOCK" swift build -c release --scratch-path "$SCRATCH" "$@") >&2
  else
    (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" "$@") >&2
  fi
}
if [ -z "${STACYVM_BIN:-}" ] || [ -z "${WORKER_BENCH_BIN:-}" ]; then
  command -v swift >/dev/null 2>&1 || die "swift not found; set STACYVM_BIN and WORKER_BENCH_BIN to release binaries"
fi
if [ -n "${STACYVM_BIN:-}" ]; then
  BIN="$STACYVM_BIN"
else
  say "building stacyvm (swift build -c release, scratch path $SCRATCH)"
  swift_build --product stacyvm || die "swift build -c release --product stacyvm failed"
  BIN="$SCRATCH/release/stacyvm"
fi
if [ -n "${WORKER_BENCH_BIN:-}" ]; then
  RANK_BIN="$WORKER_BENCH_BIN"
else
  say "building stacyvm-worker-bench (swift build -c release, scratch path $SCRATCH)"
  swift_build --product stacyvm-worker-bench || die "swift build -c release --product stacyvm-worker-bench failed"
  RANK_BIN="$SCRATCH/release/stacyvm-worker-bench"
fi
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;; esac; }
BIN="$(absolute "$BIN")"
RANK_BIN="$(absolute "$RANK_BIN")"
[ -x "$BIN" ] || die "stacyvm binary not found or not executable: $BIN"
[ -x "$RANK_BIN" ] || die "stacyvm-worker-bench binary not found or not executable: $RANK_BIN"

# --- processes, cleanup -------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/bench-workers.XXXXXX")"
PIDS=()
# stop_pid PID: TERM, up to 10 s (a control plane checkpoints its database on the way out), KILL.
stop_pid() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# stop_tracked PID: stop_pid, and forget the PID so the cleanup never signals a reused one.
stop_tracked() {
  local keep=() pid
  stop_pid "$1"
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local pid link
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  # Mock sandboxes run commands in their own process groups: kill any left in this run's roots.
  for link in /proc/[0-9]*/cwd; do
    case "$(readlink "$link" 2>/dev/null)" in
      "$TMP"/*/mock*) pid="${link#/proc/}"; kill -KILL "${pid%/cwd}" 2>/dev/null || true ;;
    esac
  done
  if [ "${KEEP_TMP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}
PORT_FLOOD=$BASE_PORT
PORT_REMOTE=$((BASE_PORT + 1))
PORT_LOCAL=$((BASE_PORT + 2))
PORT_WORKER=$((BASE_PORT + 3))
for p in "$PORT_FLOOD" "$PORT_REMOTE" "$PORT_LOCAL" "$PORT_WORKER"; do
  port_free "$p" || die "port $p is in use (set BASE_PORT to a free range of 4 ports)"
done

API_KEY="bench-api-key-0123456789abcdef0123456789"
ADMIN_KEY="bench-admin-key-0123456789abcdef012345678"
SHARED_TOKEN="bench-shared-worker-token-0123456789abcd"
LOG_LEVEL="${LOG_LEVEL:-error}"

# start_cp NAME PORT LOCAL_WORKER(true|false): a control plane from a config file in $TMP/NAME,
# run from an empty directory with HOME there; sets CP_PID and waits for /api/v1/ready.
start_cp() {
  local name=$1 port=$2 local_worker=$3 dir="$TMP/$1"
  mkdir -p "$dir/cwd" "$dir/data" "$dir/mock"
  cat >"$dir/cp.yaml" <<YAML
server:
  host: 127.0.0.1
  port: $port
  data_dir: $dir/data
  local_worker:
    enabled: $local_worker
auth:
  api_key: $API_KEY
  admin_api_key: $ADMIN_KEY
  worker_token: $SHARED_TOKEN
providers:
  default: mock
  mock:
    enabled: true
    root_dir: $dir/mock
logging:
  level: $LOG_LEVEL
YAML
  (cd "$dir/cwd" && HOME="$dir" exec env -u STACYVM_CONFIG "$BIN" serve --config "$dir/cp.yaml") >"$dir/cp.log" 2>&1 &
  CP_PID=$!
  PIDS+=("$CP_PID")
  local up=0
  for _ in $(seq 300); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/ready" 2>/dev/null)" = 200 ]; then up=1; break; fi
    kill -0 "$CP_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    tail -n 40 "$dir/cp.log" >&2 || true
    die "control plane $name did not become ready on port $port"
  fi
}

# cpu_seconds PID: user + system CPU seconds of a live process.
cpu_seconds() {
  python3 - "$1" <<'PY'
import os, sys
fields = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print(f"{(int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK'):.2f}")
PY
}

# run_flood LABEL CONNECTIONS SECONDS: wrk with the heartbeat script; output in $TMP/wrk.LABEL.txt,
# status counts in $TMP/hb.LABEL.txt, wrk's own CPU seconds in $TMP/wrkcpu.LABEL.txt.
run_flood() {
  local threads=$HB_THREADS
  [ "$threads" -le "$2" ] || threads=$2
  HB_WORKERS="$HB_WORKERS" HB_THREADS="$threads" HB_TOKEN="$SHARED_TOKEN" HB_BASE="$HB_BASE" HB_RESULT="$TMP/hb.$1.txt" \
    python3 - "$TMP/wrkcpu.$1.txt" wrk -t"$threads" -c"$2" -d"$3"s --timeout 30s --latency \
      -s "$BENCH_DIR/workers_heartbeat.lua" "http://127.0.0.1:$PORT_FLOOD" >"$TMP/wrk.$1.txt" 2>&1 <<'PY' || wrk_failed "$1"
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{usage.ru_utime + usage.ru_stime:.2f}\n")
sys.exit(rc)
PY
}

wrk_failed() { cat "$TMP/wrk.$1.txt" >&2; die "wrk failed ($1)"; }

# flood_figures LABEL: "<accepted/s> <p50 ms> <p99 ms> <ok200> <non200> <socket errors> <seconds> <wrk cpu s>"
flood_figures() {
  python3 - "$TMP/wrk.$1.txt" "$TMP/hb.$1.txt" "$TMP/wrkcpu.$1.txt" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        sys.exit("cannot parse wrk output:\n" + text)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
took = re.search(r"requests in ([0-9.]+)(ms|s|m),", text)
if not took:
    sys.exit("cannot parse wrk output:\n" + text)
seconds = float(took.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[took.group(2)]
counts = dict(kv.split("=") for kv in open(sys.argv[2]).read().split())
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = sum(int(x) for x in sock.groups()) if sock else 0
ok, other = int(counts["ok200"]), int(counts["non200"])
cpu = open(sys.argv[3]).read().strip()
print(f"{ok / seconds:.0f} {ms('50'):.2f} {ms('99'):.2f} {ok} {other} {errors} {seconds:.2f} {cpu}")
PY
}

RESULTS="$TMP/results.txt"
: >"$RESULTS"
say "$(nproc 2>/dev/null || echo '?') cores; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') (other load skews every figure)"

# --- (a) heartbeat flood ------------------------------------------------------------
echo
say "(a) heartbeat flood: $HB_WORKERS workers, wrk -t$HB_THREADS -c$HB_CONNECTIONS, ${HB_DURATION}s (after ${HB_WARMUP}s warm-up)"
start_cp flood "$PORT_FLOOD" true
FLOOD_PID=$CP_PID
HB_BASE=$(( $(date +%s) - 86400 ))
if [ "$HB_WARMUP" -gt 0 ]; then
  run_flood warm "$HB_CONNECTIONS" "$HB_WARMUP"
  fig=$(flood_figures warm) || die "cannot read the warm-up figures"
  read -r rate _ _ ok _ _ _ _ <<<"$fig"
  say "warm-up: $ok heartbeats accepted ($rate/s); the first heartbeat of each worker inserts its row"
fi
MEASURE_START_MS=$(python3 -c 'import time; print(int(time.time() * 1000))')
cpu_before=$(cpu_seconds "$FLOOD_PID")
run_flood main "$HB_CONNECTIONS" "$HB_DURATION"
cpu_after=$(cpu_seconds "$FLOOD_PID")
MEASURE_END_MS=$(python3 -c 'import time; print(int(time.time() * 1000))')
fig=$(flood_figures main) || die "cannot read the flood figures"
read -r rate p50 p99 ok non200 sockerr secs wrkcpu <<<"$fig"
server_cpu=$(python3 -c "print(f'{$cpu_after - $cpu_before:.2f}')")
printf '  %-34s %s\n' "accepted heartbeats/s" "$rate  ($ok in ${secs}s)" \
  "latency p50 / p99" "$p50 ms / $p99 ms" \
  "non-200 answers, socket errors" "$non200, $sockerr" \
  "CPU seconds: server / wrk" "$server_cpu / $wrkcpu (in ${secs}s of wall time on $(nproc 2>/dev/null || echo '?') cores)" \
  "server CPU per accepted heartbeat" "$(python3 -c "print(f'{$server_cpu / max(1, $ok) * 1e6:.0f}')") us"
echo "flood $rate $p50 $p99 $non200 $sockerr $HB_CONNECTIONS $(python3 -c "print(f'{$server_cpu / max(1, $ok) * 1e6:.0f}')")" >>"$RESULTS"

# Durability, while the server runs: the registry as the API lists it.
curl -fsS -m 60 -H "X-Admin-API-Key: $ADMIN_KEY" -o "$TMP/workers.json" "http://127.0.0.1:$PORT_FLOOD/api/v1/workers" \
  || die "GET /api/v1/workers failed"
read -r api_total api_recent api_alive < <(python3 - "$TMP/workers.json" "$MEASURE_START_MS" <<'PY'
import datetime, json, sys
workers = [w for w in json.load(open(sys.argv[1])) if w["id"].startswith("bench-")]
start = int(sys.argv[2])
def millis(ts):
    return int(datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
recent = sum(1 for w in workers if w.get("last_heartbeat") and millis(w["last_heartbeat"]) >= start)
alive = sum(1 for w in workers if w.get("liveness") == "alive" and w.get("status") == "online")
print(len(workers), recent, alive)
PY
)
printf '  %-34s %s\n' "GET /api/v1/workers" "$api_total bench workers, $api_recent with last_heartbeat in the measured run, $api_alive alive+online"

if [ "$HB_PROBE_CONNECTIONS" -gt 0 ] && [ "$HB_PROBE_DURATION" -gt 0 ]; then
  run_flood probe "$HB_PROBE_CONNECTIONS" "$HB_PROBE_DURATION"
  fig=$(flood_figures probe) || die "cannot read the probe figures"
  read -r prate pp50 pp99 _ pnon psock _ _ <<<"$fig"
  printf '  %-34s %s\n' "probe at $HB_PROBE_CONNECTIONS connections" "$prate/s, p50 $pp50 ms, p99 $pp99 ms, $pnon non-200, $psock socket errors"
  echo "probe $prate $pp50 $pp99 $pnon $psock $HB_PROBE_CONNECTIONS" >>"$RESULTS"
fi

# Durability, after the server has stopped: the database file itself.
stop_tracked "$FLOOD_PID"
db_total=-1
db_recent=-1
if command -v sqlite3 >/dev/null 2>&1; then
  IFS='|' read -r db_total db_recent < <(sqlite3 "$TMP/flood/data/stacyvm.db" \
    "SELECT COUNT(*), COALESCE(SUM(last_heartbeat >= $MEASURE_START_MS), 0) FROM workers WHERE id LIKE 'bench-%'")
  printf '  %-34s %s\n' "sqlite3 after stop" "$db_total bench workers, $db_recent with last_heartbeat at or after the measured run's start"
else
  say "sqlite3 not installed: the database file is not checked after the stop (apt-get install -y sqlite3)"
fi
echo "durable $HB_WORKERS $api_total $api_recent $db_total $db_recent $((MEASURE_END_MS - MEASURE_START_MS))" >>"$RESULTS"

# --- (b) remote vs embedded spawn -> destroy -------------------------------------------
echo
say "(b) spawn -> destroy: remote worker on loopback vs embedded worker, $SPAWN_ITERATIONS round trips each after $SPAWN_WARMUP"
start_cp remote "$PORT_REMOTE" false
REMOTE_PID=$CP_PID
start_cp local "$PORT_LOCAL" true
LOCAL_PID=$CP_PID
mkdir -p "$TMP/worker/cwd" "$TMP/worker/mock" "$TMP/worker/state"
cat >"$TMP/worker/worker.yaml" <<YAML
providers:
  default: mock
  mock:
    enabled: true
    root_dir: $TMP/worker/mock
worker:
  state_dir: $TMP/worker/state
logging:
  level: $LOG_LEVEL
YAML
(cd "$TMP/worker/cwd" && HOME="$TMP/worker" exec env -u STACYVM_CONFIG "$BIN" worker --config "$TMP/worker/worker.yaml" \
  --id bench-remote --control-plane "http://127.0.0.1:$PORT_REMOTE" --worker-token "$SHARED_TOKEN" \
  --listen "127.0.0.1:$PORT_WORKER" --heartbeat-interval 1s) >"$TMP/worker/worker.log" 2>&1 &
WORKER_PID=$!
PIDS+=("$WORKER_PID")
online=0
for _ in $(seq 150); do
  if curl -fsS -m 5 -H "X-Admin-API-Key: $ADMIN_KEY" "http://127.0.0.1:$PORT_REMOTE/api/v1/workers/bench-remote" 2>/dev/null \
    | grep -q '"status":"online"'; then online=1; break; fi
  kill -0 "$WORKER_PID" 2>/dev/null || break
  sleep 0.2
done
if [ "$online" != 1 ]; then
  tail -n 40 "$TMP/worker/worker.log" >&2 || true
  die "worker bench-remote did not come online"
fi
cpu_before="$(cpu_seconds "$REMOTE_PID") $(cpu_seconds "$WORKER_PID") $(cpu_seconds "$LOCAL_PID")"
python3 "$BENCH_DIR/workers_spawn.py" --api-key "$API_KEY" --iterations "$SPAWN_ITERATIONS" --warmup "$SPAWN_WARMUP" \
  --target "remote=$PORT_REMOTE" --target "embedded=$PORT_LOCAL" >"$TMP/spawn.txt" 2>"$TMP/spawn.err" \
  || { cat "$TMP/spawn.err" >&2; tail -n 20 "$TMP/remote/cp.log" "$TMP/worker/worker.log" >&2; die "spawn client failed"; }
cpu_after="$(cpu_seconds "$REMOTE_PID") $(cpu_seconds "$WORKER_PID") $(cpu_seconds "$LOCAL_PID")"
# CPU milliseconds per round trip (warm-up included; the worker's 1 s heartbeats are in its share).
# shellcheck disable=SC2086  # three numbers each, split on purpose
read -r cpu_remote cpu_worker cpu_local < <(python3 - "$((SPAWN_WARMUP + SPAWN_ITERATIONS))" $cpu_before $cpu_after <<'PY'
import sys
n = int(sys.argv[1])
b, a = [float(x) for x in sys.argv[2:5]], [float(x) for x in sys.argv[5:8]]
print(" ".join(f"{(a[i] - b[i]) / n * 1000:.2f}" for i in range(3)))
PY
)
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
remote_line=$(grep '^remote ' "$TMP/spawn.txt")
local_line=$(grep '^embedded ' "$TMP/spawn.txt")
for line in "$remote_line" "$local_line"; do
  printf '  %-10s p50 %8s ms   p99 %8s ms   (spawn p50 %s ms, destroy p50 %s ms; n=%s, placed on %s)\n' "${line%% *}" \
    "$(kv p50_ms "$line")" "$(kv p99_ms "$line")" "$(kv spawn_p50_ms "$line")" "$(kv destroy_p50_ms "$line")" \
    "$(kv n "$line")" "$(kv worker "$line")"
done
printf '  %-10s %s\n' "CPU/trip" "remote control plane $cpu_remote ms + worker $cpu_worker ms; embedded control plane $cpu_local ms"
[ "$(kv worker "$remote_line")" = bench-remote ] || die "remote round trips were not placed on bench-remote: $remote_line"
echo "spawn $(kv p50_ms "$remote_line") $(kv p99_ms "$remote_line") $(kv p50_ms "$local_line") $(kv p99_ms "$local_line") $cpu_remote $cpu_worker $cpu_local" >>"$RESULTS"
stop_tracked "$WORKER_PID"
stop_tracked "$REMOTE_PID"
stop_tracked "$LOCAL_PID"

# --- (c) placement among 10,000 workers ------------------------------------------------
echo
say "(c) placement (Scheduler.best under the registry lock) and the full Scheduler.rank among $RANK_WORKERS worker snapshots, $RANK_CALLS calls"
rank_line=$("$RANK_BIN" "$RANK_WORKERS" "$RANK_CALLS") || die "stacyvm-worker-bench failed"
printf '  %s\n' "$rank_line"
echo "rank $(kv rank_p50_ms "$rank_line") $(kv rank_p99_ms "$rank_line") $(kv rank_max_ms "$rank_line") $(kv copy_rank_p99_ms "$rank_line") $(kv eligible "$rank_line")" >>"$RESULTS"
echo "place $(kv place_p50_ms "$rank_line") $(kv place_p99_ms "$rank_line") $(kv place_max_ms "$rank_line")" >>"$RESULTS"

# --- summary ------------------------------------------------------------------------
echo
verdict=0
python3 - "$RESULTS" "$HB_WORKERS" "$RANK_WORKERS" <<'PY' || verdict=$?
import sys
rows = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1]) if l.strip()}
workers, rank_workers = int(sys.argv[2]), int(sys.argv[3])
table = []
def row(measure, result, target, met):
    table.append((measure, result, target, "yes" if met else "NO" if met is not None else "-"))
    return met

rate, p50, p99, non200, sockerr, conns, cpu_us = rows["flood"]
rate, p50, p99, non200, sockerr = float(rate), float(p50), float(p99), int(non200), int(sockerr)
ok = [row(f"(a) accepted heartbeats/s, {conns} conns", f"{rate:.0f}", ">= 5000", rate >= 5000)]
ok.append(row("(a) heartbeat latency p99", f"{p99:.1f} ms (p50 {p50:.1f} ms)", "<= 50 ms", p99 <= 50))
row("(a) info: server CPU per heartbeat", f"{cpu_us} us", "-", None)
ok.append(row("(a) non-200 answers / socket errors", f"{non200} / {sockerr}", "0 / 0", non200 == 0 and sockerr == 0))
total, api_total, api_recent, db_total, db_recent, _ = (int(x) for x in rows["durable"])
db = f"; db {db_recent}/{db_total}" if db_total >= 0 else "; db not checked"
durable = api_total == total and api_recent == total and (db_total < 0 or (db_total == total and db_recent == total))
ok.append(row("(a) durably recorded (all beat in run)", f"api {api_recent}/{api_total}{db}", f"{total}/{total}", durable))
if "probe" in rows:
    prate, pp50, pp99, _, _, pconns = rows["probe"]
    row(f"(a) info: same flood at {pconns} conns", f"{float(prate):.0f}/s, p50 {float(pp50):.1f}, p99 {float(pp99):.1f} ms", "-", None)
r50, r99, l50, l99, c_remote, c_worker, c_local = (float(x) for x in rows["spawn"])
ok.append(row("(b) remote - embedded, spawn+destroy p50", f"{r50 - l50:+.2f} ms ({r50:.2f} vs {l50:.2f})", "<= 2 ms", r50 - l50 <= 2))
row("(b) info: p99 remote / embedded", f"{r99:.2f} / {l99:.2f} ms", "-", None)
row("(b) info: CPU per round trip", f"remote {c_remote:.2f} + worker {c_worker:.2f} ms; embedded {c_local:.2f} ms", "-", None)
k50, k99, kmax, c99, eligible = rows["rank"]
p50_, p99_, pmax = rows["place"]
ok.append(row(f"(c) placement p99 among {rank_workers} workers", f"{float(p99_):.3f} ms (p50 {float(p50_):.3f}, max {float(pmax):.3f})",
              "<= 1 ms", float(p99_) <= 1))
row("(c) info: full rank (placement explain), p99", f"{float(k99):.3f} ms (p50 {float(k50):.3f}; {eligible} eligible)", "-", None)

widths = [max(len(str(r[i])) for r in table + [("measure", "result", "target", "met?")]) for i in range(4)]
for r in [("measure", "result", "target", "met?")] + table:
    print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
print()
print(f"overall: {'all targets met' if all(ok) else 'targets missed: ' + str(ok.count(False))}")
sys.exit(0 if all(ok) else 1)
PY
if [ "$verdict" != 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
  exit 1
fi
exit 0
