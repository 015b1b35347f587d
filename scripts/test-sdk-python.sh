#!/usr/bin/env bash
# test-sdk-python.sh: build and test the Python SDK (sdk/python, package `stacyvm`).
#
# Steps:
#   1. A virtualenv at .build-venv-sdk-python/ (created on first use) holding the
#      SDK, pytest and pytest-asyncio. The SDK is reinstalled whenever its
#      sources change (a hash of sdk/python/src and pyproject.toml is kept).
#   2. python -m compileall over sdk/python/src.
#   3. pytest sdk/python/tests: unit and parity tests, and live tests against a
#      `stacyvm serve` (mock provider) that the test fixture starts.
#
# Environment:
#   STACYVM_BIN        server binary (default .build/debug/stacyvm; never built here)
#   SDK_PYTHON_VENV    virtualenv directory (default .build-venv-sdk-python/)
#   PYTEST_ARGS        extra pytest arguments (e.g. "-k parity -x")
#
# Exit status: pytest's (0 when every test passed), 2 on a setup error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDK="$ROOT/sdk/python"
VENV="${SDK_PYTHON_VENV:-$ROOT/.build-venv-sdk-python}"
PY="$VENV/bin/python"
export STACYVM_BIN="${STACYVM_BIN:-$ROOT/.build/debug/stacyvm}"

say() { printf 'test-sdk-python: %s\n' "$*"; }
die() { printf 'test-sdk-python: error: %s\n' "$*" >&2; exit 2; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"
[ -x "$STACYVM_BIN" ] || die "stacyvm binary not found: $STACYVM_BIN (build it, or set STACYVM_BIN)"

pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

# --- 1. virtualenv and SDK ---------------------------------------------------------
sdk_stamp() {
  (cd "$SDK" && find src pyproject.toml -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
if ! { [ -x "$PY" ] && "$PY" -c 'import httpx, pytest, pytest_asyncio, stacyvm' >/dev/null 2>&1; }; then
  say "creating ${VENV#"$ROOT"/}"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install -y python3-venv)"
  pip_install "$SDK" pytest pytest-asyncio || die "pip install failed"
  sdk_stamp >"$VENV/.sdk-stamp"
elif [ "$(cat "$VENV/.sdk-stamp" 2>/dev/null || true)" != "$(sdk_stamp)" ]; then
  say "reinstalling sdk/python (sources changed)"
  pip_install --no-deps --force-reinstall "$SDK" || die "pip install ./sdk/python failed"
  sdk_stamp >"$VENV/.sdk-stamp"
fi

# --- 2. byte-compile ---------------------------------------------------------------
"$PY" -m compileall -q "$SDK/src" || die "compileall failed"

# --- 3. tests ------------------------------------------------------------------------
cd "$ROOT"
# shellcheck disable=SC2086 # PYTEST_ARGS is split on purpose
exec "$PY" -m pytest -q -p no:cacheprovider sdk/python/tests ${PYTEST_ARGS:-}
