#!/usr/bin/env bash
# Installs the Debian packages StacyVM builds, runs and tests with. Safe to run again.
set -euo pipefail
packages=(
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev   # C libraries the build links
  bubblewrap libseccomp-dev                                    # the namespace provider's sandboxes
  busybox-static                                               # a real imported root filesystem in tests
  sqlite3                                                      # upgrade rehearsal (scripts/ci-upgrade-migration.sh)
  python3 python3-venv                                         # scripts/check-swagger.sh
  curl                                                         # CLI tests, the remote-worker smoke run
  node-typescript                                              # tsc for the JavaScript SDK (scripts/test-sdk-js.sh)
  gdb                                                          # stacks of a hung test (scripts/run-xctest.sh)
)
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if (( ${#missing[@]} )); then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Node 18+ runs the JavaScript SDK's tests; Debian's nodejs only when no node is installed (its npm
# package conflicts with NodeSource's nodejs, which some machines already carry).
if ! command -v node >/dev/null; then
  echo "install-deps: installing nodejs"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs >/dev/null
fi
command -v swift >/dev/null || { echo "install-deps: Swift 6.3 must be on PATH (https://www.swift.org/install/linux/)" >&2; exit 1; }
echo "install-deps: ok"
