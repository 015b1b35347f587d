#!/usr/bin/env bash
# Namespace provider speed (issue 4): release build, one run, N iterations after a warm-up.
#   scripts/bench/namespace.sh [ITERATIONS=100] [IDLE_SANDBOXES=100]
# Prints p50/p99 of the bwrap one-shot baseline (same flags), create → running, exec `true` at the
# provider API and over HTTP, then idle-sandbox memory and the time to destroy them all.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/bench/lib.sh
say() { echo "$@"; }
die() { echo "namespace.sh: $*" >&2; exit 1; }
iterations=${1:-100}
idle=${2:-100}
swift build -c release --product stacyvm-namespace-bench >/dev/null
swift build -c release --product stacyvm --product stacyvm-agent >/dev/null 2>&1 || swift build -c release >/dev/null
echo "== provider API"
.build/release/stacyvm-namespace-bench "$iterations" "$idle"

echo "== HTTP path (exec \`true\` through POST /sandboxes/{id}/exec, one keep-alive connection)"
TMP=$(mktemp -d)
chmod 711 "$TMP"
SV_PORT=$(free_port)
STACYVM_SERVER_DATA_DIR="$TMP/data" STACYVM_PROVIDERS_DEFAULT=namespace STACYVM_LOGGING_LEVEL=error \
  .build/release/stacyvm serve --port "$SV_PORT" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
wait_for_server
python3 - "$SV_PORT" "$iterations" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("POST", "/api/v1/sandboxes", body='{"image":"alpine:latest"}', headers={"Content-Type": "application/json"})
sid = json.loads(c.getresponse().read())["id"]
times = []
for i in range(n * 2 + 10):
    t = time.perf_counter()
    c.request("POST", f"/api/v1/sandboxes/{sid}/exec", body='{"command":"true","mode":"argv"}', headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    if i >= 10: times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"exec `true` over HTTP                        p50 {times[len(times)//2]:7.2f} ms   p99 {times[int(len(times)*0.99)-1]:7.2f} ms   (n={len(times)})")
c.request("DELETE", f"/api/v1/sandboxes/{sid}"); c.getresponse().read()
PY
