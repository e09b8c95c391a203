# Shared by the HTTP benchmarks in tools/bench (sourced, not run).

# bench_release_tree NAME BUILD_DIR: refuses a Debug or sanitizer tree (its figures would
# mislead), configures a Release tree when there is none.
bench_release_tree() {
  local name=$1 build=$2 type
  if [ -f "$build/CMakeCache.txt" ]; then
    type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
    if [ "$type" != "Release" ]; then
      echo "$name bench: $build is a '$type' build; use a Release tree, e.g. CALLSIGN_BUILD_DIR=build-release" >&2
      exit 2
    fi
  else
    nice cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCALLSIGN_TESTS=OFF >/dev/null
  fi
}

# bench_start_nginx WORK_DIR: Debian's nginx serving a static 200 on a free loopback port, the
# peer of the HTTP benchmarks. Sets nginx_pid and nginx_port. keepalive_requests is raised so
# nginx, like callsignd, keeps each wrk connection for the whole run.
bench_start_nginx() {
  local work=$1
  nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/nginx/tmp"
  cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 "ok\n"; }
  }
}
NGINX
  nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $nginx_port), 1)" 2>/dev/null && return 0
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx/error.log" >&2; echo "nginx exited" >&2; exit 1; }
    sleep 0.1
  done
}

# Over wrk's "<metric> <value>" lines (tools/bench/verify_mix.lua's done()):
bench_rate() { awk '$1 == "wrk_requests" { n += $2 } $1 == "wrk_seconds" { s += $2 } END { printf "%.0f", n / s }' <<<"$1"; }
bench_worst() { awk -v m="$1" '$1 == m && $2 > w { w = $2 } END { printf "%.3f", w }' <<<"$2"; }
bench_total() { awk -v m="$1" '$1 == m { t += $2 } END { printf "%.0f", t }' <<<"$2"; }
bench_slices() { awk -v m="$1" '$1 == m { printf "%s%s", sep, $2; sep = " / " }' <<<"$2"; }

# bench_cpu_ticks PID...: user + system CPU the processes have used so far, in clock ticks
# (all their threads; nginx's workers are separate processes, so pass them too). The CPU a
# request costs is robust to a busy machine where req/s is not: print both.
bench_cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    # Fields 14 and 15 after the ")" that ends the command name.
    total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$total"
}
# bench_nginx_pids: the master and its workers (bench_start_nginx's nginx_pid).
bench_nginx_pids() { echo "$nginx_pid" $(pgrep -P "$nginx_pid"); }
# bench_us_per_request TICKS "WRK OUTPUT": CPU microseconds per request over those runs.
bench_us_per_request() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" '$1 == "wrk_requests" { n += $2 } END { printf "%.1f", t * 1e6 / hz / n }' <<<"$2"
}

# bench_children_us_per_request BEFORE AFTER REQUESTS: the CPU microseconds per request of the
# children this shell reaped between two `times >FILE` snapshots (its second line: user and
# system time of reaped children, "1m2.345s"), e.g. wrk's. The snapshot must be taken with a
# plain redirection, since a command substitution's subshell has its own, empty, account.
bench_children_us_per_request() {
  awk -v n="$3" '
    function seconds(t) { split(t, p, "m"); sub("s", "", p[2]); return p[1] * 60 + p[2] }
    FNR == 2 { total += (FILENAME == ARGV[1] ? -1 : 1) * (seconds($1) + seconds($2)) }
    END { printf "%.1f", (n > 0 ? total * 1e6 / n : 0) }' "$1" "$2"
}

# bench_threads_snapshot PID: one line per thread, "tid name run_ns wait_ns voluntary
# involuntary": time on a CPU and time runnable but waiting for one (/proc/PID/task/TID/schedstat),
# and context switches (status). Thread names are single words (callsign-io1, callsign-writer).
bench_threads_snapshot() {
  local task
  for task in /proc/"$1"/task/*; do
    [ -r "$task/schedstat" ] || continue
    printf '%s %s %s %s\n' "${task##*/}" "$(tr -d ' ' <"$task/comm")" "$(cut -d' ' -f1-2 "$task/schedstat")" \
      "$(awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v, n }' "$task/status")"
  done
}

# bench_threads_report BEFORE AFTER REQUESTS: the threads that ran at least 10 ms between two
# snapshots, with their CPU, their wait for a CPU and their switches per request.
bench_threads_report() {
  # After the join: tid, then name run wait voluntary involuntary before ($2-$6) and after ($7-$11).
  LC_ALL=C join <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") | awk -v n="$3" '{
    run = ($8 - $3) / 1e6; wait = ($9 - $4) / 1e6
    if (run >= 10) printf "  %-16s ran %7.0f ms, waited for a CPU %7.0f ms, switches %.3f + %.3f (involuntary) per request\n",
      $2, run, wait, ($10 - $5) / n, ($11 - $6) / n }'
}

# bench_metric URL NAME: one value from a Prometheus text endpoint.
bench_metric() { curl -s "$1" | awk -v m="$2" '$1 == m { print $2 }'; }
