#!/usr/bin/env bash
# Runs the XCTest bundle one test class per process, each under a time limit, so that one hung test
# cannot hold CI until its overall timeout and so that state (threads, descriptors, child processes)
# cannot pile up across classes. A class that hangs is shown with the test it was in and a stack of
# every thread (gdb), then killed; a class that hangs or fails is run once more, and both outcomes
# stay loud in the log and the summary. A class that fails twice fails the run.
#
#   scripts/run-xctest.sh [FILTER]      FILTER: a regular expression on "Module.Class" (default: all)
#   XCTEST_CLASS_TIMEOUT=180            seconds per class run (the slowest class takes about 6 s)
#   XCTEST_TOTAL_BUDGET=1500            seconds for the whole run (CI must stay under 40 minutes)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bundle=${XCTEST_BUNDLE:-$(ls -d .build/debug/*.xctest 2>/dev/null | head -1)}
[[ -n $bundle && -x $bundle ]] || { echo "run-xctest: no test bundle (run swift build --build-tests first)"; exit 2; }
limit=${XCTEST_CLASS_TIMEOUT:-180}
budget=${XCTEST_TOTAL_BUDGET:-1500}
filter=${1:-.}

listing=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$listing" "$work"' EXIT
"$bundle" --list-tests | grep '/' | sed 's/^ *//' >"$listing"
mapfile -t classes < <(sed 's#/.*##' "$listing" | awk '!seen[$0]++' | grep -E -- "$filter")
(( ${#classes[@]} )) || { echo "run-xctest: no test class matches '$filter'"; exit 2; }

# Runs one class; prints its output; returns 0 (passed), 1 (failed) or 124 (hung).
run_class() {
  local class=$1 log=$work/log expected pid executed
  expected=$(grep -c "^$class/" "$listing")
  stdbuf -oL -eL "$bundle" "$class" >"$log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    cat "$log"
    echo "run-xctest: HUNG $class after ${limit}s; last test started: $(grep "started at" "$log" | tail -1)"
    if command -v gdb >/dev/null; then
      echo "run-xctest: stacks of every thread:"
      gdb -p "$pid" -batch -ex "thread apply all bt" 2>/dev/null | grep -E '^(Thread|#)' | head -600
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
  fi
  wait "$pid"
  local status=$?
  cat "$log"
  grep "Test skipped - " "$log" >>"$work/skips" || true
  # A crash or a filter that matched less than listed must not pass as "0 failures".
  executed=$(grep -E "^Test Suite 'Selected tests' (passed|failed)" -A1 "$log" | grep -oE 'Executed [0-9]+' | grep -oE '[0-9]+' | tail -1)
  if (( status != 0 )); then return 1; fi
  if [[ ${executed:-} != "$expected" ]]; then
    echo "run-xctest: $class executed ${executed:-no} tests, $expected listed (crash?)"
    return 1
  fi
  return 0
}

passed=0 failed=0 retried=()
failures=()
for class in "${classes[@]}"; do
  if (( SECONDS > budget )); then
    failures+=("$class (not run: the ${budget}s budget is spent)")
    failed=$((failed + 1))
    continue
  fi
  run_class "$class"
  outcome=$?
  if (( outcome != 0 )); then
    what=$([[ $outcome -eq 124 ]] && echo "hung" || echo "failed")
    echo "run-xctest: $class $what; running it once more"
    run_class "$class"
    second=$?
    if (( second == 0 )); then
      retried+=("$class ($what once, passed on the second run)")
    else
      failures+=("$class ($what, then $([[ $second -eq 124 ]] && echo "hung" || echo "failed") again)")
      failed=$((failed + 1))
      continue
    fi
  fi
  passed=$((passed + 1))
done

echo "run-xctest: $passed classes passed, $failed failed ($(wc -l <"$listing") tests listed)"
# Skips are legitimate (a host without bubblewrap skips the namespace tests) but must be visible.
grep -h "Test skipped - " "$work"/skips 2>/dev/null | sed 's/.*Test skipped - //' \
  | grep -v "contract base class\|no provider for ProviderConformanceTests" | sort | uniq -c \
  | sed 's/^ *\([0-9]*\) /run-xctest: SKIPPED \1 tests: /' || true
for line in "${retried[@]}"; do echo "run-xctest: FLAKY $line"; done
for line in "${failures[@]}"; do echo "run-xctest: FAILED $line"; done
(( failed == 0 ))
