#!/usr/bin/env bash
# Upgrade rehearsal for the SQLite schema.
#
# For every earlier schema version N (0 .. latest-1): build a fresh database at version N with the
# real binary, load scripts/upgrade-fixtures/sqlite/v<N>.sql with the sqlite3 CLI, upgrade with
# `stacyvm db migrate`, then run v<N>.check.sql and compare its output with v<N>.expected.
# Adding migration K therefore requires adding fixtures v<K-1>.{sql,check.sql,expected}; the loop
# picks them up by itself and fails if they are missing.
#
# CLI contract relied on (the `stacyvm` binary):
#   STACYVM_DATABASE_PATH=<file> stacyvm db migrate [--to N]   applies pending migrations (up to N),
#       one output line per applied migration, exit 0 on success
#   STACYVM_DATABASE_PATH=<file> stacyvm db status             prints lines `current: <n>` and
#       `latest: <n>` (other lines allowed); exit 0, or 1 while migrations are pending
#
# Env: STACYVM_BIN (default .build/debug/stacyvm), STACYVM_UPGRADE_FIXTURES (default: the folder
# next to this script), KEEP_WORKDIR=1 keeps the temporary databases for inspection.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${STACYVM_BIN:-.build/debug/stacyvm}"
fixtures="${STACYVM_UPGRADE_FIXTURES:-$script_dir/upgrade-fixtures/sqlite}"

die() { echo "ci-upgrade-migration: $*" >&2; exit 1; }

command -v sqlite3 >/dev/null || die "sqlite3 CLI not found (apt-get install sqlite3)"
[[ -x "$bin" ]] || die "stacyvm binary not found or not executable: $bin (build first or set STACYVM_BIN)"
[[ -d "$fixtures" ]] || die "fixture folder not found: $fixtures"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/stacyvm-upgrade.XXXXXX")"
if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then
    echo "keeping work directory $workdir"
else
    trap 'rm -rf "$workdir"' EXIT
fi

# status_field <db> <field>: prints the integer after "<field>:" in `db status`.
status_field() {
    local out value
    # db status exits 1 while migrations are pending (cli.md), which is expected here.
    out="$(STACYVM_DATABASE_PATH="$1" "$bin" db status)" || [[ $? -eq 1 ]] || return 1
    value="$(awk -v key="$2" -F': *' '$1 == key { print $2; exit }' <<<"$out")"
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "db status printed no '$2: <n>' line:" >&2; echo "$out" >&2; return 1; }
    echo "$value"
}

latest="$(status_field "$workdir/probe.db" latest)" || die "cannot read the latest schema version from '$bin db status'"
echo "latest schema version: $latest"
(( latest > 0 )) || die "binary reports latest version 0; nothing to rehearse"

sql() { sqlite3 -bail -batch -noheader -list -nullvalue NULL "$@"; }

failed=()
# rehearse <N>: returns non-zero with a message naming version N on any problem.
rehearse() {
    local n="$1" db="$workdir/v$1.db" log="$workdir/v$1.log" actual="$workdir/v$1.actual"
    local file
    for file in "v$n.sql" "v$n.check.sql" "v$n.expected"; do
        [[ -f "$fixtures/$file" ]] || { echo "version $n: missing fixture $fixtures/$file"; return 1; }
    done

    STACYVM_DATABASE_PATH="$db" "$bin" db migrate --to "$n" >"$log" 2>&1 \
        || { echo "version $n: 'db migrate --to $n' failed:"; cat "$log"; return 1; }
    local current
    current="$(status_field "$db" current)" || { echo "version $n: db status failed"; return 1; }
    [[ "$current" == "$n" ]] || { echo "version $n: fresh database is at version $current, expected $n"; return 1; }

    sql "$db" <"$fixtures/v$n.sql" >"$log" 2>&1 \
        || { echo "version $n: loading v$n.sql failed:"; cat "$log"; return 1; }

    STACYVM_DATABASE_PATH="$db" "$bin" db migrate >"$log" 2>&1 \
        || { echo "version $n: upgrade 'db migrate' from $n to $latest failed:"; cat "$log"; return 1; }
    current="$(status_field "$db" current)" || { echo "version $n: db status failed after upgrade"; return 1; }
    [[ "$current" == "$latest" ]] || { echo "version $n: upgrade stopped at $current, expected $latest"; return 1; }

    sql "$db" <"$fixtures/v$n.check.sql" >"$actual" 2>&1 \
        || { echo "version $n: v$n.check.sql failed after upgrade:"; cat "$actual"; return 1; }
    diff -u --label "v$n.expected" --label "v$n after upgrade to $latest" "$fixtures/v$n.expected" "$actual" \
        || { echo "version $n: data after upgrade differs from v$n.expected (diff above)"; return 1; }
}

for (( n = 0; n < latest; n++ )); do
    if message="$(rehearse "$n" 2>&1)"; then
        echo "ok   upgrade $n -> $latest"
    else
        echo "FAIL upgrade $n -> $latest"
        while IFS= read -r line; do echo "     $line"; done <<<"$message"
        failed+=("$n")
    fi
done

if (( ${#failed[@]} > 0 )); then
    die "upgrade rehearsal failed for schema version(s): ${failed[*]}"
fi
echo "upgrade rehearsal passed for versions 0..$(( latest - 1 ))"
