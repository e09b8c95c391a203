#!/usr/bin/env bash
# packaging/callsign.service: systemd-analyze verify finds nothing to say, the hardening the
# issue asks for is there, and systemd-analyze security scores it OK or better (the score is
# printed). The maintainer scripts, tools/package, tools/setup and deploy/'s scripts pass sh -n / bash -n, and
# shellcheck when Debian's shellcheck is installed.
# usage: unit_file_test.sh SOURCE_DIR CALLSIGND
set -uo pipefail
src="${1:?source dir}" callsignd="$(realpath "${2:?callsignd}")"
unit="$src/packaging/callsign.service"
fail=0
say_fail() { echo "FAIL: $*"; fail=1; }
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze is not installed (tools/setup test)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# verify also requires ExecStart's program to exist: point it at the binary under test.
sed "s#^ExecStart=/usr/bin/callsignd #ExecStart=$callsignd #" "$unit" > "$work/callsign.service"
grep -q "^ExecStart=$callsignd " "$work/callsign.service" || say_fail "ExecStart is not /usr/bin/callsignd ..."
# Unknown keys and bad values are warnings with status 0: any output at all fails.
out="$(systemd-analyze verify "$work/callsign.service" 2>&1)"; rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then say_fail "systemd-analyze verify (status $rc): $out"; else echo "ok: systemd-analyze verify"; fi

for line in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'User=callsign' 'StateDirectory=callsign' \
            'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'PrivateDevices=yes' \
            'CapabilityBoundingSet=' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
            'SystemCallFilter=@system-service' 'MemoryDenyWriteExecute=yes' 'LockPersonality=yes'; do
  grep -qxF -- "$line" "$unit" || say_fail "$unit lacks the line: $line"
done
nofile="$(sed -n 's/^LimitNOFILE=//p' "$unit")"
# The default limits.max_connections (10,000) plus RocksDB's and the lists' files.
if [ -z "$nofile" ] || [ "$nofile" -lt 16384 ]; then say_fail "LimitNOFILE=$nofile is below 16384"; fi

sec="$(systemd-analyze security --offline=true "$work/callsign.service" 2>&1)"; rc=$?
overall="$(grep 'Overall exposure level' <<<"$sec")"
echo "systemd-analyze security --offline=true: ${overall:-<no overall line>}"
if [ $rc -ne 0 ] || ! grep -Eq 'exposure level for callsign.service: [0-9.]+ (PERFECT|SAFE|OK)' <<<"$overall"; then
  say_fail "security score is not OK or better (status $rc)"
fi

scripts=("$src/packaging/debian/postinst" "$src/packaging/debian/prerm" "$src/packaging/debian/postrm")
for s in "${scripts[@]}"; do
  sh -n "$s" || say_fail "sh -n $s"
done
bash_scripts=("$src/tools/package" "$src/tools/setup")
deploy_scripts=("$src/deploy/make-secrets.sh" "$src/deploy/redis/start-redis.sh")
for s in "${deploy_scripts[@]}"; do
  sh -n "$s" || say_fail "sh -n $s"
done
for s in "${bash_scripts[@]}"; do
  bash -n "$s" || say_fail "bash -n $s"
done
if command -v shellcheck >/dev/null; then
  shellcheck -s sh "${scripts[@]}" || say_fail "shellcheck (maintainer scripts)"
  shellcheck "${bash_scripts[@]}" || say_fail "shellcheck (tools/package, tools/setup)"
  shellcheck -s sh "${deploy_scripts[@]}" || say_fail "shellcheck (deploy scripts)"
  echo "ok: shellcheck"
else
  echo "SKIPPED: shellcheck is not installed (tools/setup test installs it); only sh -n ran"
fi
[ $fail -eq 0 ] && echo "PASS unit_file_test"
exit $fail
