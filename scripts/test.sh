#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit and integration tests (XCTest, one class per process),
# the contract check and its own failure tests, the upgrade rehearsal, the CLI tests against the
# real binary, the remote-worker smoke run (a control plane and two `stacyvm worker` processes), a
# bounded schemathesis run against a live server and the Python and JavaScript SDKs' live and
# parity tests.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

passed=0
failed=0
stage() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); echo "=== $name: ok"
  else failed=$((failed + 1)); echo "=== $name: FAILED"; fi
}

# One build, reused by every stage below (2 cores: never build twice in parallel).
if ! swift build --build-tests; then echo "build failed"; echo "stages: 0 passed, 1 failed"; exit 1; fi
export STACYVM_BIN="$root/.build/debug/stacyvm"

# Every stage has a time limit: a hang fails its stage, loudly, instead of holding CI.
limited() { local seconds=$1; shift; timeout -k 10 "$seconds" "$@"; }
export PYTHONUNBUFFERED=1
stage "xctest (one class per process)" scripts/run-xctest.sh
stage "check-swagger" limited 600 scripts/check-swagger.sh
stage "check-swagger fails on drift" limited 900 scripts/test-check-swagger.sh
stage "upgrade rehearsal" limited 300 scripts/ci-upgrade-migration.sh
stage "cli" limited 600 scripts/test-cli.sh
stage "remote worker smoke" limited 300 scripts/smoke-remote-worker.sh
stage "hostile input (schemathesis)" limited 900 scripts/test-hostile-input.sh
stage "python sdk (live, parity)" limited 600 scripts/test-sdk-python.sh
stage "javascript sdk (live, parity, original 0.1.x table)" limited 600 scripts/test-sdk-js.sh

echo "stages: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
