#!/usr/bin/env bash
# Fails when a folder includes a layer it must not see: crypto -> storage -> server, and
# Asio/Beast only in server/src/net/.
set -uo pipefail
root="${1:?source dir}"
cd "$root"
fail=0
forbid() {  # forbid <description> <regex> <paths...>
  local what="$1" regex="$2"; shift 2
  local hits
  hits="$(grep -rnE "$regex" "$@" --include='*.hpp' --include='*.cpp' --include='*.h' 2>/dev/null || true)"
  if [ -n "$hits" ]; then
    echo "FAIL: $what"; echo "$hits"; fail=1
  else
    echo "ok: $what"
  fi
}
forbid "crypto uses no Asio/Beast/RocksDB/storage/server" '#include *[<"](boost/(asio|beast)|rocksdb/|storage/|server/)' crypto
forbid "storage uses no Asio/Beast/server" '#include *[<"](boost/(asio|beast)|server/)' storage
forbid "server core uses no Asio/Beast" '#include *[<"]boost/(asio|beast)' server/include $(find server/src -path server/src/net -prune -o -type f -print)
forbid "server headers never include Beast" '#include *[<"]boost/beast' server/include
exit $fail
