#!/usr/bin/env bash
# Hostile-input run (issue 3): schemathesis (PyPI) generates requests from openapi/openapi.json —
# examples, boundary values, fuzzed bodies, stateful sequences — against a live server with an admin
# key, so every operation is reachable. Fails on any 5xx or any response the document does not
# describe (status, content type or body schema). Bounded by HOSTILE_MAX_TIME seconds (default 60).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${STACYVM_BIN:-$root/.build/debug/stacyvm}
[[ -x $bin ]] || { echo "test-hostile-input: $bin not found (build first or set STACYVM_BIN)"; exit 2; }
venv=${HOSTILE_VENV:-$root/.build-venv-schemathesis}
if [[ ! -x $venv/bin/schemathesis ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis
fi

work=$(mktemp -d)
server_pid=""
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key="hostile-input-admin-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
(cd "$work" && exec env HOME="$work" STACYVM_SERVER_DATA_DIR="$work/data" STACYVM_PROVIDERS_DEFAULT=mock \
  STACYVM_PROVIDERS_MOCK_ROOT_DIR="$work" STACYVM_AUTH_ADMIN_API_KEY="$key" STACYVM_TESTING=1 \
  STACYVM_LOGGING_LEVEL=error STACYVM_DEFAULTS_MAX_EXEC_TIMEOUT=5s "$bin" serve --port "$port") >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/v1/live" >/dev/null && break; sleep 0.1; done

# Streams never end on their own (events, followed logs): schemathesis cannot judge them.
status=0
# Run from the temp dir: schemathesis keeps a cache folder in its working directory.
cd "$work"
"$venv/bin/schemathesis" run "$root/openapi/openapi.json" --url "http://127.0.0.1:$port" \
  -H "X-API-Key: $key" --max-time "${HOSTILE_MAX_TIME:-60}" --request-timeout 15 -w 1 \
  --exclude-path-regex '/events$' --exclude-operation-id getSandboxLogs \
  -c not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --output-truncate true || status=$?
if ! kill -0 "$server_pid" 2>/dev/null; then echo "test-hostile-input: the server died"; tail -20 "$work/server.log"; exit 1; fi
exit $status
