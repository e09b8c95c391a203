#!/usr/bin/env bash
# Fails when a folder includes a layer it must not see: crypto -> storage -> rules -> redis ->
# shared_state -> server, Asio only in redis/src/ and server/src/net/, Beast only in server/src/net/. A folder that is missing or holds no source fails too:
# a check over nothing would pass whatever the code does.
set -uo pipefail
root="${1:?source dir}"
cd "$root" || { echo "FAIL: cannot enter $root"; exit 1; }
fail=0
forbid() {  # forbid <description> <regex> <paths...>
  local what="$1" regex="$2"; shift 2
  local path sources hits status
  for path in "$@"; do
    [ -e "$path" ] || { echo "FAIL: $what: $path does not exist"; fail=1; return; }
  done
  sources="$(find "$@" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) | head -1)"
  [ -n "$sources" ] || { echo "FAIL: $what: no source files under $*"; fail=1; return; }
  hits="$(grep -rnE "$regex" "$@" --include='*.hpp' --include='*.cpp' --include='*.h')"
  status=$?
  if [ "$status" -eq 0 ]; then
    echo "FAIL: $what"; echo "$hits"; fail=1
  elif [ "$status" -eq 1 ]; then
    echo "ok: $what"
  else
    echo "FAIL: $what: grep failed ($status)"; fail=1
  fi
}
for folder in crypto storage rules redis shared_state server/include server/src server/src/net; do
  [ -d "$folder" ] || { echo "FAIL: $folder does not exist"; fail=1; }
done
forbid "crypto uses no Asio/Beast/RocksDB/storage/rules/server" '#include *[<"](boost/(asio|beast)|rocksdb/|storage/|rules/|server/)' crypto
forbid "storage uses no Asio/Beast/rules/redis/shared_state/server" '#include *[<"](boost/(asio|beast)|rules/|redis/|shared_state/|server/)' storage
# Issue 19: the rules language sees crypto and storage only, and matches with RE2, never std::regex.
forbid "rules uses no Asio/Beast/RocksDB/redis/shared_state/server" '#include *[<"](boost/(asio|beast)|rocksdb/|redis/|shared_state/|server/)' rules
forbid "rules uses no std::regex" '#include *<regex>|std::regex' rules
# Issue 18: the Redis client may use Asio (never Beast) and sees only crypto and storage; its
# public headers stay Asio-free, so the server's core can hold a client.
forbid "redis uses no Beast/shared_state/server" '#include *[<"](boost/beast|shared_state/|server/)' redis
forbid "redis's public headers include no Asio" '#include *[<"]boost/asio' redis/include
forbid "shared_state uses no Asio/Beast/server" '#include *[<"](boost/(asio|beast)|server/)' shared_state
forbid "server core uses no Asio/Beast" '#include *[<"]boost/(asio|beast)' server/include $(find server/src -path server/src/net -prune -o -type f -print)
forbid "server headers never include Beast" '#include *[<"]boost/beast' server/include
# Issue 17: the folders show the architecture.
# Sources sit in concern folders (docs/architecture.md, "The folders of server/"); only these
# may stay at the top.
loose() {  # loose <folder> <allowed names...>
  local folder="$1" name found; shift
  found="$(find "$folder" -maxdepth 1 -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) -printf '%f\n' | sort)"
  for name in $found; do
    case " $* " in *" $name "*) ;; *) echo "FAIL: $folder/$name sits loose; give it a concern folder"; fail=1 ;; esac
  done
}
loose server/src main.cpp
loose server/include/server app_context.hpp
loose tests/server main_test.cpp tsan_main_test.cpp storage_failure_test.cpp
[ "$fail" -eq 0 ] && echo "ok: no source loose at the top of server/src, server/include/server, tests/server"
exit $fail
