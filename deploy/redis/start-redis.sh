#!/bin/sh
# Starts one Redis process of deploy/compose.yaml with the settings ./tools/cluster gives its own
# (tools/cluster_topology.py; tests/packaging/deploy_test.py compares them). The password comes
# from the compose secret, so it is in no file of this directory.
# usage: start-redis.sh primary | replica PRIMARY_HOST | sentinel
# The paths are the containers'; tests/packaging/deploy_test.py runs this script outside a
# container with CALLSIGN_SECRETS, CALLSIGN_DEPLOY, CALLSIGN_DATA and CALLSIGN_REDIS_ARGS (extra
# arguments that override the file, such as --port) set.
set -eu
secrets="${CALLSIGN_SECRETS:-/run/secrets}"
deploy="${CALLSIGN_DEPLOY:-/deploy}"
data="${CALLSIGN_DATA:-/data}"
password="$(cat "$secrets/redis.password")"
conf="$data/redis.conf"
role="${1:?primary, replica or sentinel}"
case "$role" in
  primary|replica)
    cp "$deploy/redis.conf" "$conf"
    {
      echo "dir $data"
      echo "requirepass $password"
      echo "masterauth $password"
      # The commands callsignd sends, on the keys and channels it owns (docs/cluster.md).
      echo "user callsignd on >$password ~cs:* &cs:* +@read +@write +@scripting +@pubsub +@connection +@transaction +info +role +wait -@dangerous +info +role"
      # Sentinels and replicas find this server by its compose service name.
      echo "replica-announce-ip $(hostname)"
      if [ "$role" = replica ]; then echo "replicaof ${2:?primary host} 6379"; fi
    } >>"$conf"
    # shellcheck disable=SC2086 # CALLSIGN_REDIS_ARGS is a list of arguments
    exec redis-server "$conf" ${CALLSIGN_REDIS_ARGS:-}
    ;;
  sentinel)
    # Sentinel rewrites its config file: a copy in the volume, never the mounted original.
    cp "$deploy/sentinel.conf" "$conf"
    {
      echo "dir $data"
      echo "sentinel auth-pass callsign $password"
      echo "sentinel announce-ip $(hostname)"
    } >>"$conf"
    # shellcheck disable=SC2086
    exec redis-sentinel "$conf" ${CALLSIGN_REDIS_ARGS:-}
    ;;
  *) echo "start-redis.sh: unknown role $role" >&2; exit 2;;
esac
