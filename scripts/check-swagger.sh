#!/usr/bin/env bash
# check-swagger.sh: the committed OpenAPI documents must describe exactly the
# routes compiled into the binary (cli.md, `routes`; api.md §4).
#
# Checks, in order:
#   1. openapi/openapi.json (and openapi/worker-openapi.json when present) is a
#      valid OpenAPI 3.1.x document (openapi-spec-validator, installed into
#      .build-venv/ on first use).
#   2. `stacyvm routes --json` equals the document's operations, compared on
#      (method, path, x-stacyvm-scope, x-stacyvm-auth-rule, operationId);
#      `stacyvm routes --json --worker` likewise against worker-openapi.json.
#      Any difference is printed as a unified diff.
#   3. Every operation documents the error envelope (a response whose schema is
#      components/schemas/Error, directly or through components/responses).
#   4. Each sdk/*/operation-map.json maps or excludes every operation of
#      openapi.json, names no unknown operation, and each mapped method name
#      occurs (as a word) in that SDK's sources.
#
# Environment:
#   STACYVM_BIN          binary to use; default: `swift build` (debug) and .build/debug/stacyvm
#   OPENAPI_DOC          control-plane document (default openapi/openapi.json)
#   OPENAPI_WORKER_DOC   worker document (default openapi/worker-openapi.json; checked only if it exists)
#   SDK_ROOT             directory holding the SDKs (default sdk/)
#   CHECK_SWAGGER_VENV   virtualenv for the validator (default .build-venv/)
#
# Exit status: 0 when everything matches, 1 on any mismatch, 2 on a setup error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CP_DOC="${OPENAPI_DOC:-$ROOT/openapi/openapi.json}"
WORKER_DOC="${OPENAPI_WORKER_DOC:-$ROOT/openapi/worker-openapi.json}"
SDK_DIR="${SDK_ROOT:-$ROOT/sdk}"
VENV="${CHECK_SWAGGER_VENV:-$ROOT/.build-venv}"

say() { printf 'check-swagger: %s\n' "$*"; }
die() { printf 'check-swagger: error: %s\n' "$*" >&2; exit 2; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"
[ -f "$CP_DOC" ] || die "OpenAPI document not found: $CP_DOC"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/check-swagger.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

FAILED=0
fail() { printf 'check-swagger: FAIL: %s\n' "$*" >&2; FAILED=1; }

# --- 0. the binary ---------------------------------------------------------
if [ -n "${STACYVM_BIN:-}" ]; then
  BIN="$STACYVM_BIN"
else
  command -v swift >/dev/null 2>&1 || die "swift not found; set STACYVM_BIN to a built stacyvm binary"
  say "building stacyvm (swift build, debug)"
  (cd "$ROOT" && swift build --product stacyvm) >&2 || die "swift build failed"
  BIN="$ROOT/.build/debug/stacyvm"
fi
[ -x "$BIN" ] || die "stacyvm binary not found or not executable: $BIN"

# --- 1. validator venv -----------------------------------------------------
PY="$VENV/bin/python"
if ! { [ -x "$PY" ] && "$PY" -c 'import openapi_spec_validator' >/dev/null 2>&1; }; then
  say "installing openapi-spec-validator into ${VENV#"$ROOT"/}"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install -y python3-venv)"
  "$PY" -m pip install -q --disable-pip-version-check openapi-spec-validator \
    || die "pip install openapi-spec-validator failed"
fi

# All JSON work happens in one embedded program; the first argument picks the task.
cat >"$TMP/tool.py" <<'PYEOF'
import json, sys

def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"cannot read {path} as JSON: {e}", file=sys.stderr)
        sys.exit(1)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

def operations(doc):
    """Yield (METHOD, path, operation) for every operation of the document."""
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for m in METHODS:
            op = item.get(m)
            if isinstance(op, dict):
                yield m.upper(), path, op

def line(method, path, scope, rule, opid):
    return f"{method} {path} scope={scope or '<none>'} auth_rule={rule or '-'} operation_id={opid or '<none>'}"

def sort_key(l):
    method, path = l.split(" ", 2)[:2]
    return (path, method)

def cmd_validate(path):
    doc = load(path)
    v = doc.get("openapi") if isinstance(doc, dict) else None
    if not isinstance(v, str) or not v.startswith("3.1."):
        print(f"{path}: 'openapi' is {v!r}, expected 3.1.x", file=sys.stderr)
        return 1
    from openapi_spec_validator import validate
    try:
        validate(doc)
    except Exception as e:  # the validator raises several exception types
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"{path}: not a valid OpenAPI {v} document: {msg}", file=sys.stderr)
        return 1
    return 0

def cmd_doc_routes(path):
    doc = load(path)
    lines, seen, rc = [], {}, 0
    for method, p, op in operations(doc):
        opid = op.get("operationId")
        if opid in seen:
            print(f"{path}: operationId {opid} is used by both {seen[opid]} and {method} {p}", file=sys.stderr)
            rc = 1
        seen[opid] = f"{method} {p}"
        lines.append(line(method, p, op.get("x-stacyvm-scope"), op.get("x-stacyvm-auth-rule"), opid))
    print("\n".join(sorted(lines, key=sort_key)))
    return rc

def cmd_bin_routes(path):
    try:
        with open(path, encoding="utf-8") as f:
            routes = json.load(f)
    except ValueError as e:
        print(f"`routes --json` did not print JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(routes, list):
        print("`routes --json` did not print a JSON array", file=sys.stderr)
        return 1
    lines, keys, rc = [], [], 0
    for i, r in enumerate(routes):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("method", "path", "scope", "operation_id")):
            print(f"`routes --json` entry {i} lacks a string method, path, scope or operation_id: {json.dumps(r)}", file=sys.stderr)
            rc = 1
            continue
        keys.append((r["path"], r["method"]))
        lines.append(line(r["method"], r["path"], r["scope"], r.get("auth_rule"), r["operation_id"]))
    if keys != sorted(keys):
        print("`routes --json` is not sorted by path then method", file=sys.stderr)
        rc = 1
    if len(set(keys)) != len(keys):
        print("`routes --json` lists a (method, path) twice", file=sys.stderr)
        rc = 1
    print("\n".join(sorted(lines, key=sort_key)))
    return rc

def resolve(doc, obj, depth=0):
    """Follow a local $ref (#/a/b/c) to its target."""
    while isinstance(obj, dict) and "$ref" in obj and depth < 20:
        ref = obj["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return None
        target = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return None
            target = target[part]
        obj, depth = target, depth + 1
    return obj

ERROR_REF = "#/components/schemas/Error"

def schema_is_error(schema):
    if not isinstance(schema, dict):
        return False
    if schema.get("$ref") == ERROR_REF:
        return True
    return any(isinstance(schema.get(k), list) and any(schema_is_error(s) for s in schema[k])
               for k in ("allOf", "oneOf", "anyOf"))

def cmd_envelope(path):
    doc = load(path)
    err = resolve(doc, {"$ref": ERROR_REF})
    props = (err or {}).get("properties") or {}
    if not (isinstance(err, dict) and "code" in props and "message" in props
            and set(err.get("required") or []) >= {"code", "message"}):
        print(f"{path}: components/schemas/Error must be an object with required properties code and message", file=sys.stderr)
        return 1
    rc = 0
    for method, p, op in operations(doc):
        ok = False
        for status, resp in (op.get("responses") or {}).items():
            resp = resolve(doc, resp)
            if not isinstance(resp, dict):
                continue
            for media in (resp.get("content") or {}).values():
                if isinstance(media, dict) and schema_is_error(media.get("schema")):
                    ok = True
        if not ok:
            print(f"{path}: operation {op.get('operationId') or '<no operationId>'} ({method} {p}) documents no error response using components/schemas/Error", file=sys.stderr)
            rc = 1
    return rc

def cmd_count(path):
    print(sum(1 for _ in operations(load(path))))
    return 0

def cmd_sdk_map(doc_path, map_path, words_out):
    """Compare one operation map with the document; write the mapped method names, one a line."""
    ops = {op.get("operationId") for _, _, op in operations(load(doc_path))}
    ops.discard(None)
    m = load(map_path)
    rc = 0
    mapped = m.get("operations") if isinstance(m, dict) else None
    excluded = m.get("excluded", {}) if isinstance(m, dict) else None
    if not isinstance(mapped, dict) or not isinstance(excluded, dict):
        print(f"{map_path}: expected {{\"operations\": {{...}}, \"excluded\": {{...}}}}", file=sys.stderr)
        return 1
    for opid in sorted(ops):
        if opid not in mapped and opid not in excluded:
            print(f"{map_path}: operation {opid} is neither mapped nor excluded", file=sys.stderr)
            rc = 1
    for opid in sorted(set(mapped) | set(excluded)):
        if opid not in ops:
            print(f"{map_path}: names operation {opid}, which {doc_path} lacks", file=sys.stderr)
            rc = 1
    for opid in sorted(set(mapped) & set(excluded)):
        print(f"{map_path}: operation {opid} is both mapped and excluded", file=sys.stderr)
        rc = 1
    for opid, reason in sorted(excluded.items()):
        if not isinstance(reason, str) or not reason.strip():
            print(f"{map_path}: excluded operation {opid} needs a reason", file=sys.stderr)
            rc = 1
    with open(words_out, "w", encoding="utf-8") as f:
        for opid, name in sorted(mapped.items()):
            if not isinstance(name, str) or not name.strip():
                print(f"{map_path}: operation {opid} maps to no method name", file=sys.stderr)
                rc = 1
                continue
            # "Client.sandboxes.list" is looked up by its last segment.
            f.write(f"{opid}\t{name.strip().split('.')[-1]}\n")
    return rc

task, args = sys.argv[1], sys.argv[2:]
sys.exit({"validate": cmd_validate, "doc-routes": cmd_doc_routes, "bin-routes": cmd_bin_routes,
          "envelope": cmd_envelope, "count": cmd_count, "sdk-map": cmd_sdk_map}[task](*args))
PYEOF
tool() { "$PY" "$TMP/tool.py" "$@"; }

# check_routes LABEL DOC [routes flags...]
check_routes() {
  local label="$1" doc="$2"
  shift 2
  local out="$TMP/$label.bin.json" err="$TMP/$label.bin.err"
  local cmd="stacyvm routes --json${*:+ $*}"
  if ! "$BIN" routes --json "$@" >"$out" 2>"$err"; then
    fail "\`$cmd\` failed ($BIN): $(head -c 2000 "$err")"
    return
  fi
  tool bin-routes "$out" >"$TMP/$label.bin.txt" || fail "output of \`$cmd\` is malformed (see above)"
  tool doc-routes "$doc" >"$TMP/$label.doc.txt" || fail "${doc#"$ROOT"/} has duplicate operationIds (see above)"
  if ! diff -u --label "$cmd" --label "${doc#"$ROOT"/}" \
      "$TMP/$label.bin.txt" "$TMP/$label.doc.txt" >"$TMP/$label.diff"; then
    cat "$TMP/$label.diff"
    fail "routes of the binary ('-') and ${doc#"$ROOT"/} ('+') differ"
  fi
}

DOCS=("$CP_DOC")
HAVE_WORKER=0
if [ -f "$WORKER_DOC" ]; then
  DOCS+=("$WORKER_DOC")
  HAVE_WORKER=1
fi

# --- 1. documents are OpenAPI 3.1 ------------------------------------------
for doc in "${DOCS[@]}"; do
  tool validate "$doc" || fail "${doc#"$ROOT"/} is not a valid OpenAPI 3.1 document"
done
# Later checks need documents that at least parse.
[ "$FAILED" = 0 ] || { say "FAILED"; exit 1; }

# --- 2. routes --------------------------------------------------------------
check_routes cp "$CP_DOC"
if [ "$HAVE_WORKER" = 1 ]; then
  check_routes worker "$WORKER_DOC" --worker
fi

# --- 3. error envelope ------------------------------------------------------
for doc in "${DOCS[@]}"; do
  tool envelope "$doc" || fail "${doc#"$ROOT"/}: operations without the error envelope (see above)"
done

# --- 4. SDK operation maps ----------------------------------------------------
shopt -s nullglob
MAPS=("$SDK_DIR"/*/operation-map.json)
shopt -u nullglob
if [ "${#MAPS[@]}" -eq 0 ]; then
  say "no SDK operation maps (${SDK_DIR#"$ROOT"/}/*/operation-map.json); skipping the SDK check"
else
  for map in "${MAPS[@]}"; do
    sdk="$(dirname "$map")"
    words="$TMP/words.$(basename "$sdk").txt"
    tool sdk-map "$CP_DOC" "$map" "$words" || fail "${map#"$ROOT"/} does not match ${CP_DOC#"$ROOT"/} (see above)"
    [ -f "$words" ] || continue
    while IFS=$'\t' read -r opid method; do
      if ! grep -rqwF --exclude=operation-map.json \
          --exclude-dir=node_modules --exclude-dir=.build --exclude-dir=dist \
          --exclude-dir=__pycache__ --exclude-dir=.venv -- "$method" "$sdk"; then
        fail "${map#"$ROOT"/}: $opid maps to method '$method', which does not occur in ${sdk#"$ROOT"/}"
      fi
    done <"$words"
    say "SDK map ${map#"$ROOT"/}: checked"
  done
fi

if [ "$FAILED" != 0 ]; then
  say "FAILED"
  exit 1
fi
if [ "$HAVE_WORKER" = 1 ]; then
  say "worker document: $(tool count "$WORKER_DOC") routes match"
fi
say "OK ($(tool count "$CP_DOC") routes)"
