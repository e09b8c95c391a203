#!/bin/sh
# Starts one Redis process of deploy/compose.yaml with the settings ./tools/cluster gives its own
# (tools/cluster_topology.py; tests/packaging/deploy_test.py compares them). The password comes
# from the compose secret, so it is in no file of this directory.
# usage: start-redis.sh primary | replica PRIMARY_HOST | sentinel
set -eu
password="$(cat /run/secrets/redis.password)"
conf=/data/redis.conf
role="${1:?primary, replica or sentinel}"
case "$role" in
  primary|replica)
    cp /deploy/redis.conf "$conf"
    {
      echo "requirepass $password"
      echo "masterauth $password"
      # The commands callsignd sends, on the keys and channels it owns (docs/cluster.md).
      echo "user callsignd on >$password ~cs:* &cs:* +@read +@write +@scripting +@pubsub +@connection +@transaction +info +role +wait -@dangerous +info +role"
      # Sentinels and replicas find this server by its compose service name.
      echo "replica-announce-ip $(hostname)"
      if [ "$role" = replica ]; then echo "replicaof ${2:?primary host} 6379"; fi
    } >>"$conf"
    exec redis-server "$conf"
    ;;
  sentinel)
    # Sentinel rewrites its config file: a copy in the volume, never the mounted original.
    cp /deploy/sentinel.conf "$conf"
    {
      echo "sentinel auth-pass callsign $password"
      echo "sentinel announce-ip $(hostname)"
    } >>"$conf"
    exec redis-sentinel "$conf"
    ;;
  *) echo "start-redis.sh: unknown role $role" >&2; exit 2;;
esac
