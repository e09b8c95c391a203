#!/bin/sh
# Makes the secrets deploy/compose.yaml hands every node (and Redis): one master key ring, one
# HS256 JWT key and the Redis password, in deploy/secrets/, owned by uid 10001 (the user of the
# Dockerfile's images), mode 0600. Compose bind-mounts them at /run/secrets, which the nodes read
# as $CREDENTIALS_DIRECTORY (docs/operations.md, "Three nodes"). Refuses to overwrite: a new
# master key would make every stored authenticator secret unreadable.
set -eu
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
if [ -e "$dir/master.key" ]; then
  echo "make-secrets.sh: $dir/master.key exists; not replacing it" >&2
  exit 1
fi
umask 077
mkdir -p "$dir"
printf '1 %s %s\n' "$(openssl rand -hex 32)" "$(date +%s)" >"$dir/master.key"
openssl rand 32 >"$dir/jwt-hs256.key"
openssl rand -hex 24 >"$dir/redis.password"
chown 10001:10001 "$dir/master.key" "$dir/jwt-hs256.key" "$dir/redis.password"
chmod 0600 "$dir/master.key" "$dir/jwt-hs256.key" "$dir/redis.password"
echo "secrets written to $dir (keep them out of version control)"
