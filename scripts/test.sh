#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit and integration tests (swift test), the contract check
# and its own failure tests, the upgrade rehearsal, the CLI tests against the real binary and a
# bounded schemathesis run against a live server.
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

stage "swift test" swift test --skip-build
stage "check-swagger" scripts/check-swagger.sh
stage "check-swagger fails on drift" scripts/test-check-swagger.sh
stage "upgrade rehearsal" scripts/ci-upgrade-migration.sh
stage "cli" scripts/test-cli.sh
stage "hostile input (schemathesis)" scripts/test-hostile-input.sh

echo "stages: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
