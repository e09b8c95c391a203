#!/usr/bin/env bash
# The session layer names no endpoint: every path is a route's, and a route declares how its
# body is read (docs/architecture.md, "Adding an endpoint"). Fails on a path literal in net/.
set -uo pipefail
root="${1:?source dir}"
if grep -rnE '"/(v1/|healthz|readyz|metrics|static/|")' "$root/server/src/net/"; then
  echo "FAIL: server/src/net/ names a path (above); declare the route's kind in its route group instead"
  exit 1
fi
echo "ok: server/src/net/ names no path"
