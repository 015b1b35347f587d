#!/usr/bin/env bash
# CLI tests against the real binary: exit codes, config validation and redaction, db commands,
# and `serve` from start to a graceful SIGTERM stop.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${STACYVM_BIN:-$root/.build/debug/stacyvm}
bin=$(cd "$(dirname "$bin")" 2>/dev/null && pwd)/$(basename "$bin")
[[ -x $bin ]] || { echo "test-cli: $bin not found (build first or set STACYVM_BIN)"; exit 2; }
work=$(mktemp -d)
server_pid=""
cleanup() { [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# Keep the caller's config and environment out of the way.
cd "$work" || exit 2
export HOME=$work
unset STACYVM_CONFIG
export STACYVM_SERVER_DATA_DIR=$work/data

passed=0
failed=0
check() {  # check <name> <condition...>
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
contains() { [[ $1 == *"$2"* ]]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# version and routes
out=$("$bin" version --json)
check "version --json has the documented keys" contains "$out" '"protocol_version":2'
out=$("$bin" routes --json)
check "routes --json lists health as public" contains "$out" '{"method":"GET","path":"/api/v1/health","scope":"public","operation_id":"getHealth"}'

# config validate
cat >good.yaml <<'YAML'
server:
  port: 17423
  shutdown_timeout: 5s
logging:
  level: debug
YAML
out=$("$bin" config validate --file good.yaml); code=$?
check "config validate: good file prints ok" [ "$code" -eq 0 -a "$out" = "ok" ]
cat >bad.yaml <<'YAML'
server:
  port: 70000
  shutdown_timeout: 10
logging:
  level: verbose
nonsense: 1
YAML
out=$("$bin" config validate --file bad.yaml); code=$?
check "config validate: bad file exits 2" [ "$code" -eq 2 ]
check "config validate: names server.port" contains "$out" "server.port:"
check "config validate: names server.shutdown_timeout" contains "$out" "server.shutdown_timeout:"
check "config validate: names logging.level" contains "$out" "logging.level:"
check "config validate: names the unknown key" contains "$out" "nonsense:"
"$bin" config validate --file missing.yaml >/dev/null 2>&1; code=$?
check "config validate: a named file that does not exist exits 2" [ "$code" -eq 2 ]
out=$(STACYVM_CONFIG=missing.yaml "$bin" config show 2>&1); code=$?
check "STACYVM_CONFIG naming a missing file exits 2" [ "$code" -eq 2 ]
out=$(STACYVM_AUTH_API_KEY=s3cret-key-value-that-is-long-enough "$bin" config validate --production); code=$?
check "config validate --production rejects a plaintext key" [ "$code" -eq 2 ]
check "config validate --production names auth.api_key" contains "$out" "auth.api_key:"

# config show
out=$(STACYVM_AUTH_API_KEY=s3cret-key-value "$bin" config show)
check "config show redacts secrets" contains "$out" "***"
check "config show never prints the secret" bash -c '[[ "$1" != *s3cret-key-value* ]]' _ "$out"
out=$(STACYVM_AUTH_API_KEY=s3cret-key-value "$bin" config show --show-secrets)
check "config show --show-secrets prints it" contains "$out" "s3cret-key-value"
out=$(STACYVM_SERVER_PORT=17555 "$bin" config show -o json --sources)
check "config show --sources marks env values" contains "$out" '"port":{"value":17555,"source":"env"}'

# db
export STACYVM_DATABASE_PATH=$work/cli.db
"$bin" db status >status.txt; code=$?
check "db status on a fresh database exits 1 (pending)" [ "$code" -eq 1 ]
check "db status shows current 0" grep -q '^current: 0$' status.txt
out=$("$bin" db migrate --dry-run); code=$?
check "db migrate --dry-run lists without applying" [ "$code" -eq 0 ]
check "db migrate --dry-run applied nothing" bash -c '"$1" db status | grep -q "^current: 0$"' _ "$bin"
out=$("$bin" db migrate); code=$?
check "db migrate applies" [ "$code" -eq 0 ]
check "db migrate prints each version" contains "$out" "applied 1 "
"$bin" db status >status.txt; code=$?
check "db status after migrate exits 0" [ "$code" -eq 0 ]
out=$("$bin" db migrate)
check "db migrate again is a no-op" contains "$out" "up to date"

# serve: refusals
out=$("$bin" serve --host 0.0.0.0 --port "$(free_port)" 2>&1); code=$?
check "serve refuses a non-loopback address (exit 2)" [ "$code" -eq 2 ]
check "serve says why" contains "$out" "loopback"
out=$(STACYVM_DATABASE_PATH=$work/fresh.db STACYVM_DATABASE_AUTO_MIGRATE=false "$bin" serve --port "$(free_port)" 2>&1); code=$?
check "serve refuses pending migrations without auto_migrate" [ "$code" -eq 1 ]
check "serve names the pending migrations" contains "$out" "pending"

# serve: start, answer, stop on SIGTERM
port=$(free_port)
STACYVM_SERVER_SHUTDOWN_TIMEOUT=3s "$bin" serve --port "$port" >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/v1/live" >/dev/null && break; sleep 0.1; done
out=$(curl -s "http://127.0.0.1:$port/api/v1/health")
check "serve: health says ok" contains "$out" '"status":"ok"'
out=$(curl -s "http://127.0.0.1:$port/api/v1/no-such-route")
check "serve: unknown route gets the envelope" [ "$out" = '{"code":"NOT_FOUND","message":"route not found"}' ]
out=$(curl -s -X POST "http://127.0.0.1:$port/api/v1/health")
check "serve: wrong method gets 405 envelope" contains "$out" '"code":"METHOD_NOT_ALLOWED"'
check "serve: access log is JSON lines" grep -q '"msg":"request"' serve.log
start=$(date +%s%N)
kill -TERM "$server_pid"
wait "$server_pid"; code=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
server_pid=""
check "serve: SIGTERM exits 0" [ "$code" -eq 0 ]
check "serve: stops within server.shutdown_timeout (${elapsed_ms} ms)" [ "$elapsed_ms" -lt 3000 ]
check "serve: logs the stop" grep -q '"msg":"stopped"' serve.log
check "serve: port closed after stop" bash -c '! curl -s --max-time 2 "http://127.0.0.1:$1/api/v1/live"' _ "$port"

# client commands against a live server (spawn, exec, list, kill)
port=$(free_port)
export STACYVM_SERVER=http://127.0.0.1:$port
STACYVM_DATABASE_PATH=$work/client.db STACYVM_PROVIDERS_DEFAULT=mock STACYVM_PROVIDERS_MOCK_ROOT_DIR=$work/mock \
  "$bin" serve --port "$port" >client-serve.log 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$STACYVM_SERVER/api/v1/live" >/dev/null && break; sleep 0.1; done
out=$("$bin" spawn --ttl 10m); code=$?
check "spawn exits 0" [ "$code" -eq 0 ]
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out" 2>/dev/null)
check "spawn prints the sandbox JSON" contains "$out" '"state":"running"'
out=$("$bin" exec "$id" echo hi); code=$?
check "exec echo hi prints hi" [ "$out" = "hi" ]
check "exec echo hi exits 0" [ "$code" -eq 0 ]
"$bin" exec "$id" sh -c 'exit 7' >/dev/null 2>&1; code=$?
check "exec exits with the command's code (7)" [ "$code" -eq 7 ]
"$bin" exec --stream "$id" sh -c 'echo out; echo err >&2; exit 5' >exec.out 2>exec.err; code=$?
check "exec --stream exits with the exit frame's code (5)" [ "$code" -eq 5 ]
check "exec --stream writes stdout and stderr to their fds" bash -c '[ "$(cat exec.out)" = out ] && [ "$(cat exec.err)" = err ]'
out=$("$bin" list -o json); code=$?
check "list -o json exits 0" [ "$code" -eq 0 ]
check "list -o json contains the sandbox" contains "$out" "\"id\":\"$id\""
out=$("$bin" ls -o table)
check "ls -o table has the header" contains "$out" "ID"
"$bin" kill "$id" >/dev/null; code=$?
check "kill exits 0" [ "$code" -eq 0 ]
out=$("$bin" exec "$id" echo hi 2>&1); code=$?
check "exec after kill exits 1" [ "$code" -eq 1 ]
check "exec after kill prints error: NOT_FOUND" contains "$out" "error: NOT_FOUND"
out=$("$bin" list --server http://127.0.0.1:1 2>&1); code=$?
check "list against a closed port exits 1 with CONNECTION_ERROR" bash -c '[ "$1" -eq 1 ] && [[ $2 == *"error: CONNECTION_ERROR"* ]]' _ "$code" "$out"
kill -TERM "$server_pid"; wait "$server_pid"; server_pid=""

# client --verbose and list paging, against a server with an API key and an admin key
port=$(free_port)
export STACYVM_SERVER=http://127.0.0.1:$port
key=cli-verbose-api-key-0123456789abcdef
admin=cli-verbose-admin-key-0123456789abcdef
STACYVM_AUTH_API_KEY=$key STACYVM_AUTH_ADMIN_API_KEY=$admin STACYVM_DATABASE_PATH=$work/paging.db \
  STACYVM_PROVIDERS_DEFAULT=mock STACYVM_PROVIDERS_MOCK_ROOT_DIR=$work/mock-paging \
  "$bin" serve --port "$port" >paging-serve.log 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$STACYVM_SERVER/api/v1/live" >/dev/null && break; sleep 0.1; done
out=$("$bin" list -v --api-key "$key" -o json 2>verbose.err); code=$?
check "list -v exits 0" [ "$code" -eq 0 ]
check "list -v logs the request line with its status to stderr" \
  grep -q "^stacyvm: GET $STACYVM_SERVER/api/v1/sandboxes -> 200 ([0-9]* ms)" verbose.err
check "list -v shows the API key header redacted" grep -q 'X-API-Key: \[redacted\]' verbose.err
check "list -v never prints the API key" bash -c '! grep -q -- "$1" verbose.err' _ "$key"
check "list -v keeps stdout JSON only" [ "$out" = "[]" ]
"$bin" list --api-key "$key" -o json >/dev/null 2>quiet.err
check "list without -v logs nothing" [ ! -s quiet.err ]
"$bin" list --verbose --api-key wrong-key-value-zz -o json >/dev/null 2>verbose.err; code=$?
check "list --verbose with a bad key exits 1 and logs the 401" \
  bash -c '[ "$1" -eq 1 ] && grep -q "^stacyvm: GET .* -> 401 (" verbose.err' _ "$code"
check "list --verbose never prints a rejected key" bash -c '! grep -q wrong-key-value-zz verbose.err'
"$bin" templates list -v --admin-key "$admin" -o json >/dev/null 2>verbose.err; code=$?
check "templates list -v logs with the admin key redacted" \
  bash -c '[ "$1" -eq 0 ] && grep -q "^stacyvm: GET .*/api/v1/templates -> 200 (.*X-Admin-API-Key: \[redacted\]" verbose.err' _ "$code"
check "templates list -v never prints the admin key" bash -c '! grep -q -- "$1" verbose.err' _ "$admin"
"$bin" list -v --server http://127.0.0.1:1 --api-key "$key" >/dev/null 2>verbose.err
check "list -v against a closed port logs CONNECTION_ERROR" grep -q '^stacyvm: GET http://127.0.0.1:1/api/v1/sandboxes -> CONNECTION_ERROR' verbose.err
ids=()
for n in 1 2 3 4 5; do
  out=$("$bin" spawn -v --api-key "$key" --ttl 10m -o table 2>spawn.err) && ids+=("$out")
done
check "spawned 5 sandboxes" [ "${#ids[@]}" -eq 5 ]
check "spawn -v logs the POST with its status" grep -q "^stacyvm: POST $STACYVM_SERVER/api/v1/sandboxes -> 201 (" spawn.err
"$bin" exec -v --stream --api-key "$key" "${ids[0]}" echo hi >exec.out 2>exec.err; code=$?
check "exec --stream -v still exits 0 and prints the output" bash -c '[ "$1" -eq 0 ] && [ "$(cat exec.out)" = hi ]' _ "$code"
check "exec --stream -v logs the request when the head arrives" \
  grep -q "^stacyvm: POST $STACYVM_SERVER/api/v1/sandboxes/${ids[0]}/exec -> 200 ([0-9]* ms, stream head)" exec.err
check "exec --stream -v never prints the API key" bash -c '! grep -q -- "$1" exec.err' _ "$key"
count() { python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
out=$("$bin" list --api-key "$key" --limit 3 -o json); code=$?
check "list --limit 3 exits 0" [ "$code" -eq 0 ]
check "list --limit 3 prints exactly 3 of 5" [ "$(count <<<"$out")" = 3 ]
out=$("$bin" list --api-key "$key" --limit 3 -o table)
check "list --limit 3 -o table prints a header and 3 rows" [ "$(wc -l <<<"$out")" -eq 4 ]
out=$(STACYVM_CLI_PAGE_SIZE=2 "$bin" list -v --api-key "$key" --limit 5 -o json 2>verbose.err)
check "list --limit 5 in pages of 2 prints 5" [ "$(count <<<"$out")" = 5 ]
check "list --limit 5 in pages of 2 prints 5 distinct sandboxes" \
  [ "$(python3 -c 'import json,sys; print(len({s["id"] for s in json.load(sys.stdin)}))' <<<"$out")" = 5 ]
check "list --limit 5 in pages of 2 makes 3 requests" [ "$(grep -c '^stacyvm: GET ' verbose.err)" -eq 3 ]
check "list --limit 5 pages follow next_cursor" \
  bash -c 'grep -q "?limit=2 -> 200" verbose.err && [ "$(grep -c "?limit=[0-9]*&cursor=[A-Za-z0-9_-]* -> 200" verbose.err)" -eq 2 ]'
out=$("$bin" list -v --api-key "$key" --limit 150 -o json 2>verbose.err)
check "list --limit 150 against 5 prints 5" [ "$(count <<<"$out")" = 5 ]
check "list --limit 150 takes one request of limit=100" \
  bash -c '[ "$(grep -c "^stacyvm: GET " verbose.err)" -eq 1 ] && grep -q "/api/v1/sandboxes?limit=100 -> 200" verbose.err'
out=$("$bin" list --api-key "$key" --state running --limit 5 -o json)
check "list --state running --limit 5 prints 5" [ "$(count <<<"$out")" = 5 ]
"$bin" kill --api-key "$key" "${ids[0]}" >/dev/null
out=$("$bin" list --api-key "$key" -o json)
check "list without --limit excludes the destroyed sandbox" [ "$(count <<<"$out")" = 4 ]
out=$("$bin" list --admin-key "$admin" --all --limit 10 -o json)
check "list --all --limit 10 (admin) includes the destroyed sandbox" contains "$out" "\"id\":\"${ids[0]}\""
"$bin" list --api-key "$key" --limit 0 >/dev/null 2>&1; code=$?
check "list --limit 0 is a usage error (exit 2)" [ "$code" -eq 2 ]
kill -TERM "$server_pid"; wait "$server_pid"; server_pid=""
unset STACYVM_SERVER

# images (offline): list, import, list again, a second import of the same name
export STACYVM_PROVIDERS_NAMESPACE_IMAGE_DIR=$work/images
out=$("$bin" images list); code=$?
check "images list exits 0" [ "$code" -eq 0 ]
check "images list has the header" contains "$out" "NAME"
check "images list shows the built-in host image" bash -c 'grep -q "^host  *builtin" <<<"$1"' _ "$out"
check "images list names the fallback" contains "$out" "fallback: host"
mkdir -p rootfs/etc rootfs/usr/bin
echo demo >rootfs/etc/hostname
ln -s usr/bin rootfs/bin
out=$("$bin" images import demo:1 rootfs); code=$?
check "images import exits 0" [ "$code" -eq 0 ]
check "images import prints the installed path ending in demo_1" bash -c '[[ $1 == */demo_1 ]]' _ "$out"
check "images import copied the tree" [ -f "$work/images/demo_1/etc/hostname" ]
check "images import kept the symlink a symlink" [ -L "$work/images/demo_1/bin" ]
out=$("$bin" images list --json); code=$?
check "images list --json exits 0" [ "$code" -eq 0 ]
check "images list --json lists the import under its storage name" contains "$out" '{"name":"demo_1","kind":"imported","bytes":5,'
check "images list --json lists host" contains "$out" '{"name":"host","kind":"builtin","bytes":null,"path":null}'
check "images list --json names the fallback" contains "$out" '"fallback":"host"}'
out=$("$bin" images import demo:1 rootfs 2>&1); code=$?
check "images import of an existing name exits 1" [ "$code" -eq 1 ]
check "images import of an existing name says so in one line" bash -c '[[ $1 == "error: CONFLICT: already exists: image demo:1"* && $1 != *$'"'"'\n'"'"'* ]]' _ "$out"
out=$("$bin" images import other missing-dir 2>&1); code=$?
check "images import of a missing source exits 1" [ "$code" -eq 1 ]
check "images import of a missing source leaves nothing" [ ! -e "$work/images/other" ]
out=$(STACYVM_PROVIDERS_NAMESPACE_IMAGE_FALLBACK= "$bin" images list)
check "images list with an empty fallback says unknown images are refused" contains "$out" "fallback: none (unknown images are refused)"
unset STACYVM_PROVIDERS_NAMESPACE_IMAGE_DIR


# usage errors exit 2 (cli.md §1)
"$bin" list -o xml >/dev/null 2>&1; code=$?
check "a bad option value is a usage error (exit 2)" [ "$code" -eq 2 ]
"$bin" spawn --no-such-flag >/dev/null 2>&1; code=$?
check "an unknown flag is a usage error (exit 2)" [ "$code" -eq 2 ]
out=$("$bin" --help 2>&1); code=$?
check "--help still exits 0" [ "$code" -eq 0 ]
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
