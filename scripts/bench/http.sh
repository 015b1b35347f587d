#!/usr/bin/env bash
# bench/http.sh: GET /api/v1/health on `stacyvm serve` against nginx serving the
# same bytes as a static file (README §7, performance targets). A benchmark, not
# a test: run it on a release build, outside CI.
#
# Targets: stacyvm requests/s >= 0.8 x nginx's; stacyvm p99 <= nginx's p99.
#
# Environment:
#   STACYVM_BIN      binary to use; default: `swift build -c release` and .build/release/stacyvm
#   DURATION         seconds per wrk run (default 10)
#   ROUNDS           rounds of "stacyvm then nginx" (default 2)
#   WARMUP           seconds of unmeasured load on each target first (default 2; 0 = none)
#   THREADS, CONNECTIONS   wrk -t / -c (default 2 / 64)
#   NGINX_WORKERS    nginx worker_processes (default 1)
#   BENCH_STRICT     1 = exit 1 when a target is missed (default: report only)
#   KEEP_TMP         1 = keep the temp directory (logs, nginx conf)
#
# Needs wrk, nginx and curl (Debian: apt-get install -y nginx-light wrk curl).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
NGINX_WORKERS="${NGINX_WORKERS:-1}"
ROUTE="/api/v1/health"

say() { printf 'bench/http: %s\n' "$*"; }
die() { printf 'bench/http: error: %s\n' "$*" >&2; exit 2; }

for v in DURATION ROUNDS WARMUP THREADS CONNECTIONS NGINX_WORKERS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
if [ "$ROUNDS" -lt 1 ] || [ "$DURATION" -lt 1 ]; then
  die "ROUNDS and DURATION must be at least 1"
fi

MISSING=()
command -v wrk >/dev/null 2>&1 || MISSING+=(wrk)
command -v curl >/dev/null 2>&1 || MISSING+=(curl)
command -v python3 >/dev/null 2>&1 || MISSING+=(python3)
NGINX="$(command -v nginx 2>/dev/null || true)"
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || MISSING+=(nginx)
if [ "${#MISSING[@]}" -gt 0 ]; then
  die "missing: ${MISSING[*]} (Debian: apt-get install -y nginx-light wrk curl python3)"
fi

if [ -n "${STACYVM_BIN:-}" ]; then
  BIN="$STACYVM_BIN"
else
  command -v swift >/dev/null 2>&1 || die "swift not found; set STACYVM_BIN to a release stacyvm binary"
  say "building stacyvm (swift build -c release)"
  (cd "$ROOT" && swift build -c release --product stacyvm) >&2 || die "swift build -c release failed"
  BIN="$ROOT/.build/release/stacyvm"
fi
[ -x "$BIN" ] || die "stacyvm binary not found or not executable: $BIN"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/bench-http.XXXXXX")"
SERVER_PID=""
NGINX_PID=""
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local pid
  for pid in "$SERVER_PID" "$NGINX_PID"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$SERVER_PID" "$NGINX_PID"; do
    [ -n "$pid" ] || continue
    # Give each up to 5 s, then force.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    say "kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- stacyvm ---------------------------------------------------------------
SV_PORT="$(free_port)"
mkdir -p "$TMP/data" "$TMP/cwd"
say "starting $BIN serve --port $SV_PORT"
# Run from an empty directory so a ./stacyvm.yaml in the caller's cwd is not picked up.
(cd "$TMP/cwd" && exec env STACYVM_SERVER_DATA_DIR="$TMP/data" STACYVM_LOGGING_LEVEL="${LOG_LEVEL:-error}" \
  "$BIN" serve --port "$SV_PORT") >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

wait_for_server

# --- nginx serving the same body ---------------------------------------------
start_static_nginx "health body"

# --- load ----------------------------------------------------------------------

say "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS round(s) of stacyvm then nginx"
say "note: nginx runs worker_processes $NGINX_WORKERS; the server uses a 2-thread pool (rerun with NGINX_WORKERS=2 for a thread-for-thread comparison)"
if [ "$WARMUP" -gt 0 ]; then
  say "warming up (${WARMUP}s each)"
  run_wrk warm-stacyvm "$SV_URL$ROUTE" "$WARMUP"
  run_wrk warm-nginx "$NG_URL$ROUTE" "$WARMUP"
fi

RESULTS="$TMP/results.txt"
: >"$RESULTS"
printf '%-6s %-8s %14s %12s %8s %8s\n' round target "requests/s" "p99 (ms)" non-2xx errors
for round in $(seq "$ROUNDS"); do
  for target in stacyvm nginx; do
    if [ "$target" = stacyvm ]; then url="$SV_URL$ROUTE"; else url="$NG_URL$ROUTE"; fi
    run_wrk "$target.$round" "$url" "$DURATION"
    read -r rps p99 non2xx errs < <(parse "$target.$round")
    printf '%-6s %-8s %14s %12s %8s %8s\n' "$round" "$target" "$rps" "$p99" "$non2xx" "$errs"
    echo "$target $rps $p99 $non2xx $errs" >>"$RESULTS"
    if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
      say "warning: $target round $round had $non2xx non-2xx responses and $errs socket errors"
    fi
  done
done
kill -0 "$SERVER_PID" 2>/dev/null || die "stacyvm exited during the benchmark (see $TMP/server.log; KEEP_TMP=1 keeps it)"

# --- summary -----------------------------------------------------------------
verdict=0
python3 - "$RESULTS" <<'PY' || verdict=$?
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(target, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == target)
s_rps, n_rps = med("stacyvm", 1), med("nginx", 1)
s_p99, n_p99 = med("stacyvm", 2), med("nginx", 2)
rps_ratio = s_rps / n_rps if n_rps else 0.0
p99_ratio = s_p99 / n_p99 if n_p99 else float("inf")
errors = sum(int(r[3]) + int(r[4]) for r in rows)
print()
print(f"median requests/s:  stacyvm {s_rps:.0f}   nginx {n_rps:.0f}")
print(f"median p99 (ms):    stacyvm {s_p99:.3f}   nginx {n_p99:.3f}")
ok_rps = rps_ratio >= 0.8
ok_p99 = s_p99 <= n_p99
print(f"stacyvm/nginx rps:        {rps_ratio:.3f}  (target >= 0.80)  {'PASS' if ok_rps else 'FAIL'}")
print(f"stacyvm p99 / nginx p99:  {p99_ratio:.3f}  (target <= 1.00)  {'PASS' if ok_p99 else 'FAIL'}")
if errors:
    print(f"warning: {errors} non-2xx responses or socket errors in total; the figures are suspect")
print(f"overall: {'PASS' if ok_rps and ok_p99 and not errors else 'FAIL'}")
sys.exit(0 if ok_rps and ok_p99 and not errors else 1)
PY
if [ "$verdict" != 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
  exit 1
fi
exit 0
