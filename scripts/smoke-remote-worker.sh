#!/usr/bin/env bash
# smoke-remote-worker.sh [DIR]: a control plane and two remote workers on one host with the mock
# provider (workers.md §12). Every step checks what a user would look at with curl or the CLI;
# any failure prints both processes' logs and exits 1. Prints PASSED at the end.
#
# Steps run now: 1 (start, credentials), 2 (status), 3 (identity), 4 (spawn and placement),
# 9 (renew), 10 (drain and undrain, without reassignment), 11 (destroy), 12 (kill -9, liveness and a
# restart), the staging guide's shared token flow and SIGTERM. Steps 5-8 (exec, streams, files,
# logs on remote sandboxes) join with remote I/O routing.
#
# Environment:
#   STACYVM_BIN                          binary (default: builds .build/debug/stacyvm)
#   STACYVM_REMOTE_SMOKE_CP_PORT         control plane port (17423)
#   STACYVM_REMOTE_SMOKE_WORKER_A_PORT   worker-a RPC port (17430)
#   STACYVM_REMOTE_SMOKE_WORKER_B_PORT   worker-b RPC port (17431)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${STACYVM_BIN:-} ]]; then
  (cd "$root" && swift build --product stacyvm) >&2 || { echo "smoke: build failed" >&2; exit 2; }
  STACYVM_BIN=$root/.build/debug/stacyvm
fi
bin=$(cd "$(dirname "$STACYVM_BIN")" && pwd)/$(basename "$STACYVM_BIN")
[[ -x $bin ]] || { echo "smoke: $bin is not executable" >&2; exit 2; }
command -v curl >/dev/null || { echo "smoke: curl is required" >&2; exit 2; }

dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/stacyvm-remote-smoke.XXXXXX")}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cp_port=${STACYVM_REMOTE_SMOKE_CP_PORT:-17423}
a_port=${STACYVM_REMOTE_SMOKE_WORKER_A_PORT:-17430}
b_port=${STACYVM_REMOTE_SMOKE_WORKER_B_PORT:-17431}
cp_url=http://127.0.0.1:$cp_port
admin_key=smoke-admin-key-0123456789abcdef0123
api_key=smoke-api-key-0123456789abcdef012345
shared_token=smoke-shared-staging-token-0123456789

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.3
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
}
trap cleanup EXIT
export HOME=$dir
unset STACYVM_CONFIG

fail() {
  echo "smoke: FAIL: $*" >&2
  for log in "$dir"/*.log; do
    [[ -f $log ]] || continue
    echo "----- $(basename "$log") (last 40 lines) -----" >&2
    tail -n 40 "$log" >&2
  done
  exit 1
}
step() { echo "smoke: $*"; }
# curl that prints the body and appends the status on its own last line.
api() { curl -s -m 10 -w '\n%{http_code}' "$@"; }
status_of() { printf '%s' "$1" | tail -n 1; }
body_of() { printf '%s' "$1" | sed '$d'; }
wait_for() {  # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

cat >"$dir/cp.yaml" <<YAML
server:
  host: 127.0.0.1
  port: $cp_port
  data_dir: $dir/cp
  local_worker:
    enabled: false
auth:
  api_key: $api_key
  admin_api_key: $admin_key
  worker_token: $shared_token
providers:
  default: mock
  mock:
    enabled: true
    root_dir: $dir/cp-sandboxes
workers:
  lost_after_intervals: 5
  startup_grace: 0s
  reconcile_interval: 2s
  rpc_timeout: 2s
defaults:
  reaper_interval: 1s
logging:
  format: text
YAML

worker_config() {  # worker_config <name>
  cat >"$dir/$1.yaml" <<YAML
providers:
  default: mock
  mock:
    enabled: true
    root_dir: $dir/$1-sandboxes
worker:
  state_dir: $dir/$1-state
logging:
  format: text
YAML
}
worker_config worker-a
worker_config worker-b

# 1. Control plane, credentials, two workers.
step "1. start the control plane"
"$bin" serve --config "$dir/cp.yaml" >"$dir/cp.log" 2>&1 &
pids+=($!)
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$cp_url/api/v1/ready") == 200 ]]; }
wait_for 10 ready || fail "control plane not ready within 10 s"
kill -0 "${pids[0]}" 2>/dev/null || fail "the control plane exited (is port $cp_port taken by another process?)"

issue() {  # issue <worker-id> → token
  local out
  out=$("$bin" token issue "$1" --server "$cp_url" --admin-key "$admin_key" -o json) || return 1
  printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
token_a=$(issue worker-a) || fail "token issue worker-a"
token_b=$(issue worker-b) || fail "token issue worker-b"
[[ $token_a == svmw_* && $token_b == svmw_* ]] || fail "token issue did not print svmw_ secrets"

start_worker() {  # start_worker <id> <token> <port>
  "$bin" worker --config "$dir/$1.yaml" --id "$1" --control-plane "$cp_url" --worker-token "$2" \
    --listen "127.0.0.1:$3" --heartbeat-interval 1s >>"$dir/$1.log" 2>&1 &
  pids+=($!)
}
step "   start worker-a and worker-b"
start_worker worker-a "$token_a" "$a_port"
start_worker worker-b "$token_b" "$b_port"

# 2. Status.
step "2. both workers online"
workers_json() { curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/workers"; }
both_online() {
  local json; json=$(workers_json)
  [[ $json == *'"id":"worker-a"'* && $json == *'"id":"worker-b"'* ]] &&
    [[ $(grep -o '"status":"online"' <<<"$json" | wc -l) -ge 2 ]]
}
wait_for 10 both_online || fail "workers not both online: $(workers_json)"
[[ $(curl -s "http://127.0.0.1:$a_port/health") == *'"status":"ok"'* ]] || fail "worker-a /health"
listing=$("$bin" workers list --server "$cp_url" --api-key "$admin_key" -o table) || fail "workers list"
[[ $listing == *"worker-a  online"* && $listing == *"worker-b  online"* ]] || fail "workers list: $listing"
[[ $(workers_json) == *"\"rpc_url\":\"http://127.0.0.1:$a_port\""* ]] || fail "worker-a does not advertise its rpc_url"

# 3. Identity.
step "3. identity: credentials are bound to their worker and their kind of route"
if "$bin" worker --config "$dir/worker-b.yaml" --id worker-b --control-plane "$cp_url" --worker-token "$token_a" --once \
  >>"$dir/once.log" 2>&1; then fail "worker --once as worker-b with worker-a's token was accepted"; fi
r=$(api -X POST "$cp_url/api/v1/worker/worker-b/heartbeat" -H "X-Worker-ID: worker-a" -H "X-Worker-Token: $token_a" -d '{}')
[[ $(status_of "$r") == 403 ]] || fail "worker-b heartbeat with worker-a's credential: $(status_of "$r") $(body_of "$r")"
r=$(api -X POST "$cp_url/api/v1/worker/worker-a/heartbeat" -H "X-API-Key: $api_key" -d '{}')
[[ $(status_of "$r") == 401 ]] || fail "API key on the heartbeat route: $(status_of "$r")"
r=$(api "$cp_url/api/v1/sandboxes" -H "X-Worker-ID: worker-a" -H "X-Worker-Token: $token_a")
[[ $(status_of "$r") == 401 ]] || fail "worker token on GET /sandboxes: $(status_of "$r")"
r=$(api -X POST "$cp_url/api/v1/worker/worker-a/heartbeat" -H "X-Worker-ID: worker-a" -H "X-Worker-Token: $token_a" \
  -d '{"protocol_version":1}')
[[ $(status_of "$r") == 400 && $(body_of "$r") == *UNSUPPORTED_VERSION* ]] || fail "protocol_version 1: $(status_of "$r")"

step "   the staging guide's shared token: accepted for a worker without its own credential only"
"$bin" worker --config "$dir/worker-b.yaml" --id worker-c --control-plane "$cp_url" --worker-token "$shared_token" --once \
  >>"$dir/once.log" 2>&1 || fail "worker --once with the shared token for worker-c"
if "$bin" worker --config "$dir/worker-b.yaml" --id worker-a --control-plane "$cp_url" --worker-token "$shared_token" --once \
  >>"$dir/once.log" 2>&1; then fail "the shared token was accepted for worker-a, which has its own credential"; fi
[[ $(workers_json) == *'"id":"worker-c"'* ]] || fail "worker-c not in the registry"
[[ -s $dir/worker-a-state/control-plane-keys.json ]] || fail "worker-a did not pin the control plane's key"

# 4. Spawn and placement.
step "4. spawn: placed on worker-a, then worker-b"
spawn() { api -X POST "$cp_url/api/v1/sandboxes" -H "X-API-Key: $api_key" -d '{"image":"alpine:latest","provider":"mock","ttl":"5m"}'; }
r=$(spawn)
[[ $(status_of "$r") == 201 ]] || fail "spawn: $(status_of "$r") $(body_of "$r")"
first=$(body_of "$r")
[[ $first == *'"id":"sb-'* && $first == *'"worker_id":"worker-a"'* ]] || fail "first spawn not on worker-a: $first"
first_id=$(printf '%s' "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
r=$(spawn)
[[ $(status_of "$r") == 201 && $(body_of "$r") == *'"worker_id":"worker-b"'* ]] || fail "second spawn not on worker-b: $(body_of "$r")"
r=$(api "$cp_url/api/v1/sandboxes/$first_id" -H "X-API-Key: $api_key")
[[ $(status_of "$r") == 200 && $(body_of "$r") == *'"state":"running"'* ]] || fail "GET first: $(body_of "$r")"
[[ -s $dir/worker-a-state/sandboxes/$first_id.json ]] || fail "worker-a has no state record for $first_id"
leases=$(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/admin/leases")
[[ $leases == *"\"resource_id\":\"$first_id\",\"resource_type\":\"sandbox\",\"holder_id\":\"worker-a\""* ]] ||
  fail "no lease of worker-a for $first_id: $leases"
r=$(api -X POST "http://127.0.0.1:$a_port/rpc" -d '{"id":"x","method":"worker.status","worker_id":"worker-a","protocol_version":2}')
[[ $(status_of "$r") == 401 ]] || fail "worker /rpc without a control-plane token: $(status_of "$r")"

r=$(api "$cp_url/api/v1/sandboxes?worker_id=worker-b" -H "X-API-Key: $api_key")
second_id=$(body_of "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])') || fail "no sandbox on worker-b: $(body_of "$r")"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# 9. Renew.
step "9. extend moves the lease; the worker renews its own lease, never another's"
before=$(curl -s -m 5 -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$first_id" | field '["expires_at"]')
r=$(api -X POST "$cp_url/api/v1/sandboxes/$first_id/extend" -H "X-API-Key: $api_key" -d '{"ttl":"10m"}')
[[ $(status_of "$r") == 200 ]] || fail "extend: $(status_of "$r") $(body_of "$r")"
after=$(body_of "$r" | field '["expires_at"]')
[[ $after > $before ]] || fail "extend did not move expires_at ($before -> $after)"
lease_expiry=$(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/admin/leases" |
  python3 -c "import json,sys; print([l for l in json.load(sys.stdin) if l['resource_id']=='$first_id'][0]['expires_at'])")
[[ ! $lease_expiry < $after ]] || fail "lease expiry $lease_expiry is before the sandbox expiry $after"
generation=$(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/admin/leases" |
  python3 -c "import json,sys; print([l for l in json.load(sys.stdin) if l['resource_id']=='$first_id'][0]['generation'])")
r=$(api -X POST "$cp_url/api/v1/worker/worker-a/leases/$first_id/renew" -H "X-Worker-ID: worker-a" -H "X-Worker-Token: $token_a" \
  -d "{\"generation\":$generation}")
[[ $(status_of "$r") == 200 && $(body_of "$r") == *"\"generation\":$generation"* ]] || fail "renew by worker-a: $(status_of "$r") $(body_of "$r")"
r=$(api -X POST "$cp_url/api/v1/worker/worker-a/leases/$first_id/renew" -H "X-Worker-ID: worker-b" -H "X-Worker-Token: $token_b" -d '{}')
[[ $(status_of "$r") == 403 ]] || fail "renew of worker-a's lease with worker-b's credential: $(status_of "$r")"

# 10. Drain and undrain (reassignment arrives with remote I/O routing).
step "10. drain worker-b: no new placement there, its sandbox expires by the deadline; undrain restores"
out=$("$bin" workers drain worker-b --deadline 20s --server "$cp_url" --api-key "$admin_key" -o table) || fail "workers drain"
[[ $out == "worker-b draining" ]] || fail "workers drain printed: $out"
r=$(spawn)
[[ $(body_of "$r") == *'"worker_id":"worker-a"'* ]] || fail "spawn while worker-b drains did not land on worker-a: $(body_of "$r")"
third_id=$(body_of "$r" | field '["id"]')
deadline=$(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-b" | field '["drain"]["deadline"]')
expiry=$(curl -s -m 5 -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$second_id" | field '["expires_at"]')
[[ ! $expiry > $deadline ]] || fail "sandbox on worker-b expires at $expiry, after the drain deadline $deadline"
[[ $(curl -s "http://127.0.0.1:$b_port/health") == *'"status":"draining"'* ]] || fail "worker-b /health does not say draining"
out=$("$bin" workers undrain worker-b --server "$cp_url" --api-key "$admin_key" -o table) || fail "workers undrain"
[[ $out == "worker-b online" ]] || fail "workers undrain printed: $out"
restored=$(curl -s -m 5 -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$second_id" | field '["expires_at"]')
[[ $restored > $deadline ]] || fail "undrain did not restore the expiry ($restored)"
"$bin" workers drain worker-b --deadline 2s --server "$cp_url" --api-key "$admin_key" -o table >/dev/null || fail "drain again"
gone() { [[ $(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$second_id") == 404 ]]; }
wait_for 10 gone || fail "the sandbox on worker-b outlived its drain deadline"
drained() { [[ $(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-b") == *'"status":"drained"'* ]]; }
wait_for 10 drained || fail "worker-b not drained once empty"
"$bin" workers undrain worker-b --server "$cp_url" --api-key "$admin_key" -o table >/dev/null || fail "undrain again"

# 11. Destroy.
step "11. destroy through the owning worker"
r=$(api -X DELETE "$cp_url/api/v1/sandboxes/$first_id" -H "X-API-Key: $api_key")
[[ $(status_of "$r") == 200 ]] || fail "destroy: $(status_of "$r") $(body_of "$r")"
r=$(api "$cp_url/api/v1/sandboxes/$first_id" -H "X-API-Key: $api_key")
[[ $(status_of "$r") == 404 ]] || fail "GET after destroy: $(status_of "$r")"
[[ $(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/admin/leases") != *"$first_id"* ]] || fail "lease of $first_id still held"
[[ -s $dir/worker-a-state/tombstones/$first_id.json && ! -e $dir/worker-a-state/sandboxes/$first_id.json ]] ||
  fail "worker-a did not tombstone $first_id"
r=$(api -X DELETE "$cp_url/api/v1/sandboxes/$first_id" -H "X-API-Key: $api_key")
[[ $(status_of "$r") == 200 ]] || fail "second destroy: $(status_of "$r")"

# 12. kill -9 of a worker with a live sandbox, then a restart with the same ID.
step "12. kill -9 worker-a: stale, lost, its sandboxes unhealthy; a restart finds them gone"
epoch_before=$(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-a" | field '["epoch"]')
kill -9 "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
stale() { [[ $(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-a") == *'"stale":true'* ]]; }
wait_for 4 stale || fail "worker-a not stale within 4 s"
lost() { [[ $(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-a") == *'"status":"lost"'* ]]; }
wait_for 8 lost || fail "worker-a not lost within 8 s"
unhealthy() { [[ $(curl -s -m 5 -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$third_id") == *'"state":"unhealthy"'* ]]; }
wait_for 4 unhealthy || fail "sandbox on the lost worker not unhealthy: $(curl -s -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$third_id")"
[[ $(curl -s -m 5 -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$third_id") == *'"state_reason":"worker_lost"'* ]] ||
  fail "state_reason is not worker_lost"
r=$(api -X POST "$cp_url/api/v1/sandboxes/$third_id/exec" -H "X-API-Key: $api_key" -d '{"command":"true"}')
[[ $(status_of "$r") == 503 && $(body_of "$r") == *WORKER_UNAVAILABLE* ]] || fail "exec on a lost worker's sandbox: $(status_of "$r") $(body_of "$r")"
r=$(spawn)
[[ $(body_of "$r") == *'"worker_id":"worker-b"'* ]] || fail "spawn with worker-a lost did not land on worker-b: $(body_of "$r")"
start_worker worker-a "$token_a" "$a_port"
back() {
  local json; json=$(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-a")
  [[ $json == *'"status":"online"'* && $json != *"\"epoch\":\"$epoch_before\""* ]]
}
wait_for 10 back || fail "worker-a not back online with a new epoch"
missing() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $api_key" "$cp_url/api/v1/sandboxes/$third_id") == 404 ]]
}
wait_for 10 missing || fail "worker-a's lost sandbox not destroyed after its restart"
[[ $(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/events?limit=500" --max-time 2 2>/dev/null; true) ]]

step "   destroy while the owning worker is frozen: revoked on its next heartbeat, reaped afterwards"
r=$(spawn)
[[ $(status_of "$r") == 201 ]] || fail "spawn before the freeze: $(body_of "$r")"
frozen_id=$(body_of "$r" | field '["id"]')
frozen_worker=$(body_of "$r" | field '["worker_id"]')
frozen_pid=${pids[2]}
[[ $frozen_worker == worker-a ]] && frozen_pid=${pids[3]}
kill -STOP "$frozen_pid"
r=$(api -X DELETE "$cp_url/api/v1/sandboxes/$frozen_id" -H "X-API-Key: $api_key")
kill -CONT "$frozen_pid"
[[ $(status_of "$r") == 200 ]] || fail "destroy with the worker frozen: $(status_of "$r") $(body_of "$r")"
reason=$(curl -s -m 5 -H "X-API-Key: $admin_key" "$cp_url/api/v1/sandboxes?include_destroyed=true" |
  python3 -c "import json,sys; print([s for s in json.load(sys.stdin) if s['id']=='$frozen_id'][0].get('state_reason'))")
[[ $reason == destroy_pending ]] || fail "a destroy the worker never answered is $reason, not destroy_pending"
reaped() {
  [[ -s $dir/$frozen_worker-state/tombstones/$frozen_id.json ]] &&
    [[ $(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/admin/leases") != *"$frozen_id"* ]]
}
wait_for 15 reaped || fail "the revoked sandbox $frozen_id was not reaped on $frozen_worker (or its lease stayed)"
# Either the revocation did it, or the destroy call the frozen worker read after waking up did.
grep -Eq '"(revoked|destroyed)"' "$dir/$frozen_worker-state/tombstones/$frozen_id.json" || fail "unexpected tombstone reason"

step "   --exit-when-drained: a drained worker exits 0 by itself"
"$bin" worker --config "$dir/worker-b.yaml" --id worker-c --control-plane "$cp_url" --worker-token "$shared_token" \
  --heartbeat-interval 1s --exit-when-drained >>"$dir/worker-c.log" 2>&1 &
c_pid=$!
pids+=("$c_pid")
c_online() { [[ $(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-c") == *'"status":"online"'* ]]; }
wait_for 10 c_online || fail "worker-c not online"
"$bin" workers drain worker-c --force --server "$cp_url" --api-key "$admin_key" -o table >/dev/null || fail "drain worker-c"
c_gone() { ! kill -0 "$c_pid" 2>/dev/null; }
wait_for 10 c_gone || fail "worker-c did not exit once drained"
wait "$c_pid"; code=$?
[[ $code == 0 ]] || fail "worker-c exited $code, not 0"

step "   SIGTERM: the worker announces itself offline"
kill -TERM "${pids[2]}"
wait "${pids[2]}" 2>/dev/null
[[ $(curl -s -m 5 -H "X-Admin-API-Key: $admin_key" "$cp_url/api/v1/workers/worker-b") == *'"status":"offline"'* ]] ||
  fail "worker-b not offline after SIGTERM"

echo "smoke: PASSED"
