#!/usr/bin/env bash
# test-sdk-js.sh: build and test the JavaScript SDK (sdk/js, package `stacyvm`).
#
# Steps:
#   1. node (18 or later) and tsc must be on PATH (Debian: nodejs, node-typescript).
#      Nothing is downloaded: the SDK has no npm dependencies.
#   2. `npm run build` in sdk/js: the system tsc compiles src/ to dist/ (*.js, *.d.ts).
#   3. node --test over sdk/js/test/*.test.mjs: unit tests, the request parity table
#      (sdk/parity/calls.json), the operation map, the original JS 0.1.x table
#      (sdk/parity/original-js-0.1.json), live tests and the example
#      (examples/javascript/code-runner.mjs), all against `stacyvm serve` processes
#      (mock provider, loopback) that the tests start.
#
# Environment:
#   STACYVM_BIN      server binary (default .build/debug/stacyvm; never built here)
#   NODE_TEST_ARGS   extra `node --test` arguments (e.g. "--test-name-pattern=parity")
#
# Prints a closing line "test-sdk-js: N passed, N failed".
# Exit status: 0 when every test passed, 1 when the build or a test failed, 2 on a setup error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDK="$ROOT/sdk/js"
export STACYVM_BIN="${STACYVM_BIN:-$ROOT/.build/debug/stacyvm}"

say() { printf 'test-sdk-js: %s\n' "$*"; }
die() { printf 'test-sdk-js: error: %s\n' "$*" >&2; exit 2; }

command -v node >/dev/null 2>&1 || die "node is required (Node.js 18 or later; Debian: apt-get install -y nodejs)"
command -v npm >/dev/null 2>&1 || die "npm is required to run the build script (Debian: apt-get install -y npm)"
command -v tsc >/dev/null 2>&1 || die "tsc is required (Debian: apt-get install -y node-typescript)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js 18 or later is required (found $(node --version))"
[ -x "$STACYVM_BIN" ] || die "stacyvm binary not found: $STACYVM_BIN (build it, or set STACYVM_BIN)"

# --- 1. build ------------------------------------------------------------------------
say "building sdk/js with $(tsc --version) on node $(node --version)"
rm -rf "$SDK/dist"
if ! (cd "$SDK" && npm run --silent build); then
  say "build failed"
  echo "test-sdk-js: 0 passed, 1 failed"
  exit 1
fi
if [ ! -f "$SDK/dist/index.js" ] || [ ! -f "$SDK/dist/index.d.ts" ]; then
  die "the build produced no dist/index.js and dist/index.d.ts"
fi

# --- 2. tests ------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/test-sdk-js.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
shopt -s nullglob
tests=("$SDK"/test/*.test.mjs)
shopt -u nullglob
[ "${#tests[@]}" -gt 0 ] || die "no tests in sdk/js/test"

cd "$ROOT"
status=0
# spec on stdout for people, TAP in a file for the counts below.
# shellcheck disable=SC2086 # NODE_TEST_ARGS is split on purpose
node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$TMP/tap" \
  ${NODE_TEST_ARGS:-} "${tests[@]}" || status=$?

passed="$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$TMP/tap" | tail -n 1)"
failed="$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$TMP/tap" | tail -n 1)"
passed="${passed:-0}"
failed="${failed:-0}"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the runner failed outside any test (a file that did not load, a crash)
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # ran no test: that is a failure too
  status=1
fi
echo "test-sdk-js: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
