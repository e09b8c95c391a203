#!/usr/bin/env bash
# docs/openapi.yaml must list exactly the routes callsignd serves (callsignd --list-routes).
set -uo pipefail
callsignd="${1:?callsignd}"; spec="${2:?openapi.yaml}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# TMPDIR inside $tmp: the scratch directory --list-routes makes there must be gone afterwards.
mkdir "$tmp/scratch"
TMPDIR="$tmp/scratch" "$callsignd" --data-dir "$tmp/data" --list-routes | sort > "$tmp/served" ||
  { echo "FAIL: --list-routes failed"; exit 1; }
# Listing the routes must not create keys or a database where --data-dir points.
[ ! -e "$tmp/data" ] || { echo "FAIL: --list-routes created $(cd "$tmp" && find data | head -5 | tr '\n' ' ')"; exit 1; }
[ -z "$(ls -A "$tmp/scratch")" ] || { echo "FAIL: --list-routes left $(ls -A "$tmp/scratch") in TMPDIR"; exit 1; }
# "  /path:" starts a path item; "    get:" etc. name its operations.
awk '/^  \/[^ ]*:$/ { path = substr($1, 1, length($1) - 1); next }
     /^    (get|put|post|delete|patch):$/ && path != "" { m = toupper(substr($1, 1, length($1) - 1)); print m " " path }
     /^[a-z]/ { path = "" }' "$spec" | sort > "$tmp/documented"
if diff -u "$tmp/documented" "$tmp/served"; then
  echo "ok: $(wc -l < "$tmp/served") routes documented and served"
else
  echo "FAIL: docs/openapi.yaml and callsignd disagree (- documented only, + served only)"; exit 1
fi
