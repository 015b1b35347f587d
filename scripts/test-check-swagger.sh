#!/usr/bin/env bash
# test-check-swagger.sh: proves scripts/check-swagger.sh can fail.
#
# Runs check-swagger.sh against modified copies of openapi/openapi.json (and a
# scratch SDK directory) and expects it to fail for each defect, then to pass
# on the unmodified copy.
#
# Environment:
#   STACYVM_BIN   required: the stacyvm binary (this script never builds)
#
# Prints "N passed, M failed" as its last line; exits 1 if any case failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECK="$ROOT/scripts/check-swagger.sh"
DOC="$ROOT/openapi/openapi.json"

if [ -z "${STACYVM_BIN:-}" ]; then
  echo "test-check-swagger: error: set STACYVM_BIN to a built stacyvm binary (this script does not build)" >&2
  exit 2
fi
[ -x "$STACYVM_BIN" ] || { echo "test-check-swagger: error: not executable: $STACYVM_BIN" >&2; exit 2; }
[ -f "$DOC" ] || { echo "test-check-swagger: error: missing $DOC" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "test-check-swagger: error: python3 is required" >&2; exit 2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/test-check-swagger.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

PASSED=0
FAILED=0
# An empty SDK directory: the document cases do not depend on the repo's SDKs.
mkdir -p "$TMP/no-sdk"

# edit SRC DST PYTHON: copy SRC to DST applying PYTHON to `doc` (a dict).
edit() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
src, dst, code = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    doc = json.load(f)
exec(code, {"doc": doc})
with open(dst, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2)
PY
}

# run_case NAME WANT_RC GREP_REGEX DOC [SDK_ROOT]
# Runs check-swagger.sh; passes when it exits WANT_RC and its output matches GREP_REGEX.
run_case() {
  local name="$1" want="$2" pattern="$3" doc="$4" sdk="${5:-$TMP/no-sdk}"
  local out="$TMP/out.txt" rc=0
  OPENAPI_DOC="$doc" SDK_ROOT="$sdk" STACYVM_BIN="$STACYVM_BIN" bash "$CHECK" >"$out" 2>&1 || rc=$?
  if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" "$out"; then
    PASSED=$((PASSED + 1))
    echo "ok   - $name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL - $name (exit $rc, want $want; output must match /$pattern/)"
    sed 's/^/       | /' "$out"
  fi
}

COPY="$TMP/openapi.json"
cp "$DOC" "$COPY"

# (a) a route missing from the document
edit "$COPY" "$TMP/a.json" 'del doc["paths"]["/api/v1/live"]'
run_case "route missing from the document is reported in the diff" 1 '^-GET /api/v1/live ' "$TMP/a.json"

# (b) a scope that differs from the binary's
edit "$COPY" "$TMP/b.json" 'doc["paths"]["/api/v1/metrics"]["get"]["x-stacyvm-scope"] = "api:*"'
run_case "changed x-stacyvm-scope is reported" 1 '^\+GET /api/v1/metrics scope=api:\*' "$TMP/b.json"

# (c) an operation without the error envelope
edit "$COPY" "$TMP/c.json" '
op = doc["paths"]["/api/v1/live"]["get"]
op["responses"] = {k: v for k, v in op["responses"].items() if k.startswith("2")}'
run_case "operation without an error response is named" 1 'getLive' "$TMP/c.json"

# (d) the unmodified copy
run_case "unmodified document passes" 0 '^check-swagger: OK \([0-9]+ routes\)' "$COPY"

# (e) an extra route in the document
edit "$COPY" "$TMP/e.json" 'doc["paths"]["/api/v1/extra"] = {"get": dict(doc["paths"]["/api/v1/live"]["get"], operationId="getExtra")}'
run_case "route only in the document is reported" 1 '^\+GET /api/v1/extra ' "$TMP/e.json"

# (f) operationId mismatch
edit "$COPY" "$TMP/f.json" 'doc["paths"]["/api/v1/ready"]["get"]["operationId"] = "getReadiness"'
run_case "changed operationId is reported" 1 'operation_id=getReadiness' "$TMP/f.json"

# (g) auth-rule mismatch
edit "$COPY" "$TMP/g.json" 'doc["paths"]["/api/v1/metrics"]["get"]["x-stacyvm-auth-rule"] = "ticket"'
run_case "x-stacyvm-auth-rule the binary lacks is reported" 1 'auth_rule=ticket' "$TMP/g.json"

# (h) not OpenAPI 3.1
edit "$COPY" "$TMP/h.json" 'doc["openapi"] = "3.0.3"'
run_case "OpenAPI 3.0 document is rejected" 1 '3\.1' "$TMP/h.json"

# (i) structurally invalid document
edit "$COPY" "$TMP/i.json" 'del doc["info"]'
run_case "invalid OpenAPI document is rejected" 1 'not a valid OpenAPI' "$TMP/i.json"

# SDK operation maps, against a scratch SDK directory built from the document.
make_sdk() { # make_sdk DIR PYTHON: writes DIR/demo/operation-map.json and DIR/demo/client.py
  mkdir -p "$1/demo"
  python3 - "$COPY" "$1/demo" "$2" <<'PY'
import json, sys
doc_path, out, code = sys.argv[1:4]
with open(doc_path, encoding="utf-8") as f:
    doc = json.load(f)
ops = [op["operationId"] for item in doc["paths"].values() for op in item.values() if isinstance(op, dict) and "operationId" in op]
m = {"operations": {o: "m_" + o for o in ops}, "excluded": {}}
source = {o: "m_" + o for o in ops}
exec(code, {"m": m, "source": source})
with open(f"{out}/operation-map.json", "w", encoding="utf-8") as f:
    json.dump(m, f, indent=2)
with open(f"{out}/client.py", "w", encoding="utf-8") as f:
    f.write("class Client:\n" + "".join(f"    def {n}(self): pass\n" for n in source.values()))
PY
}

make_sdk "$TMP/sdk-ok" 'op = sorted(m["operations"])[0]; del m["operations"][op]; del source[op]; m["excluded"][op] = "not exposed by this SDK"'
run_case "complete SDK map passes" 0 '^check-swagger: OK' "$COPY" "$TMP/sdk-ok"

make_sdk "$TMP/sdk-missing" 'del m["operations"]["getLive"]'
run_case "operation neither mapped nor excluded" 1 'getLive is neither mapped nor excluded' "$COPY" "$TMP/sdk-missing"

make_sdk "$TMP/sdk-unknown" 'm["excluded"]["getNothing"] = "gone"'
run_case "map names an unknown operation" 1 'getNothing' "$COPY" "$TMP/sdk-unknown"

make_sdk "$TMP/sdk-nomethod" 'del source["getHealth"]'
run_case "mapped method absent from the SDK" 1 "method 'm_getHealth'" "$COPY" "$TMP/sdk-nomethod"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
