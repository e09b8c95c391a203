"""Integration: health, metrics, problem responses, limits, logs and graceful shutdown of callsignd."""
import atexit
import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import sys
import time

from harness import Server, check, on_fresh_server, parse_args, run_cases

ARGS, _ = parse_args()
CONFIG = """
[limits]
body_bytes = 2048
header_bytes = 4096
request_timeout_ms = 3000
shutdown_timeout_ms = 5000
"""


def with_server(fn, config=CONFIG):
    return on_fresh_server(ARGS.callsignd, config, fn)


def problem(status, headers, body, expected):
    check(status == expected, "expected %d, got %d: %r" % (expected, status, body))
    check(headers.get("content-type") == "application/problem+json",
          "content-type was %r" % headers.get("content-type"))
    doc = json.loads(body)
    check(doc["status"] == expected and doc["title"] and doc["detail"], "problem body %r" % doc)
    return doc


def test_health_and_ready(server):
    status, headers, body = server.json("GET", "/healthz")
    check(status == 200 and body == {"status": "ok"}, "healthz: %s %r" % (status, body))
    check(headers.get("content-type") == "application/json", "healthz content-type")
    check(headers.get("x-request-id"), "a request id is returned")
    status, _, body = server.json("GET", "/readyz")
    check(status == 200 and body["status"] == "ready", "readyz: %s %r" % (status, body))
    status, headers, raw = server.request("HEAD", "/healthz")
    check(status == 200 and raw == b"" and headers.get("content-length") == "15", "HEAD: %s %r" % (status, headers))
    status, headers, _ = server.request("GET", "/healthz", headers={"X-Request-Id": "trace-123"})
    check(headers.get("x-request-id") == "trace-123", "incoming request id is kept")


def test_data_dir_created(server):
    key = os.path.join(server.data_dir, "master.key")
    check(os.path.exists(key), "master.key created on first start")
    mode = stat.S_IMODE(os.stat(key).st_mode)
    check(mode == 0o600, "master.key mode is %o" % mode)
    with open(key) as f:
        lines = [l for l in f.read().splitlines() if l and not l.startswith("#")]
    check(len(lines) == 1 and lines[0].split()[0] == "1" and len(lines[0].split()[1]) == 64, "one v1 key")
    check(os.path.isdir(os.path.join(server.data_dir, "db")), "RocksDB directory exists")


def test_metrics(server):
    for _ in range(3):
        server.request("GET", "/healthz")
    server.request("GET", "/no/such/thing")
    status, headers, body = server.request("GET", "/metrics")
    text = body.decode()
    check(status == 200 and headers["content-type"].startswith("text/plain"), "metrics content type")
    check('callsign_http_requests_total{route="GET /healthz",method="GET",status="200"} 3' in text, text)
    check('callsign_http_requests_total{route="unmatched",method="GET",status="404"} 1' in text, text)
    check('callsign_http_request_duration_seconds_count{route="GET /healthz"} 3' in text, text)
    check('callsign_http_request_duration_seconds_bucket{route="GET /healthz",le="+Inf"} 3' in text, text)


def test_not_found_and_method(server):
    problem(*server.request("GET", "/v1/nothing-here"), 404)
    status, headers, body = server.request("POST", "/healthz", body=b"{}")
    problem(status, headers, body, 405)
    check(headers.get("allow") == "GET, HEAD", "Allow header: %r" % headers.get("allow"))
    # A method the server does not recognize is a 501, not a 405 (RFC 9110 §15.6.2).
    problem(*server.request("BREW", "/healthz"), 501)


def test_malformed_request(server):
    reply = server.raw(b"THIS IS NOT HTTP\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 400"), "garbage request: %r" % reply[:80])
    check(b"application/problem+json" in reply, "400 is problem+json")
    reply = server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 400"), "bad content-length: %r" % reply[:80])


def test_body_limit(server):
    status, headers, body = server.request("POST", "/healthz", body=b"x" * 4096,
                                           headers={"Content-Type": "application/json"})
    problem(status, headers, body, 413)
    # Chunked bodies are limited too, not only declared lengths.
    chunk = b"x" * 1500
    payload = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
    reply = server.raw(payload)
    check(reply.startswith(b"HTTP/1.1 413"), "chunked over limit: %r" % reply[:80])


def test_expect_continue(server):
    """Ordinary routes: `100 Continue` before a body within limits.body_bytes, and a final 413
    instead of it for a declared body over the limit."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(1)
            check(chunk, "closed before the interim response")
            interim += chunk
        check(interim.startswith(b"HTTP/1.1 100"), "interim response %r" % interim)
        sock.sendall(b"0123456789")
        final = sock.recv(65536)
        check(re.match(rb"HTTP/1.1 [2-5]\d\d ", final) and not final.startswith(b"HTTP/1.1 100"),
              "final response %r" % final[:80])
    reply = server.raw(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n")
    check(reply.startswith(b"HTTP/1.1 413"), "declared body over the limit with Expect: %r" % reply[:80])


def test_header_limit(server):
    payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n"
    reply = server.raw(payload)
    check(reply.startswith(b"HTTP/1.1 431"), "oversized headers: %r" % reply[:80])


# The slowloris bounds: the header timer is 3 s (CONFIG). A close before LOW is too early; one
# after HIGH means the timer did not cover the whole header. A timer re-armed by each byte or
# read never fires while a byte arrives every 0.1 s, so such a server is still open at TRICKLE_FOR.
# HIGH leaves 4 s over the timer for a loaded ASan build's scheduling.


def test_connection_cap_per_ip():
    """limits.max_connections_per_ip: the next connection from that address gets 503 and is
    closed; once one closes, a new one is served again."""
    server = Server(ARGS.callsignd, CONFIG + "max_connections_per_ip = 3\n")
    held = []
    try:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            check(sock.recv(4096).startswith(b"HTTP/1.1 200"), "connection under the cap is served")
            held.append(sock)
        reply = server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        check(reply.startswith(b"HTTP/1.1 503"), "fourth connection from one address: %r" % reply[:80])
        check(b"application/problem+json" in reply, "503 is problem+json")
        check(b"too many open connections from this address" in reply and b"\r\nRetry-After: 1\r\n" in reply,
              "the per-address refusal says why and when to come back: %r" % reply[:400])
        held.pop().close()
        deadline = time.time() + 30
        reply = b""
        while time.time() < deadline:
            reply = server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if reply.startswith(b"HTTP/1.1 200"):
                break
            time.sleep(0.1)
        check(reply.startswith(b"HTTP/1.1 200"), "a slot freed by a close is reused: %r" % reply[:80])
    finally:
        for sock in held:
            sock.close()
        server.cleanup()


def test_idle_connections_do_not_block_requests():
    """Many idle keep-alive connections (the benchmark tools/bench/idle_connections holds 15,000)
    cost no service: requests on other connections are answered, and the idle ones stay open
    until the header timeout."""
    count = 1500
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 500), hard))
    server = Server(ARGS.callsignd, CONFIG.replace("request_timeout_ms = 3000", "request_timeout_ms = 60000") +
                    "max_connections_per_ip = 2000\n")
    idle = []
    try:
        for _ in range(count):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        # Every idle connection is accepted and counted before the requests below.
        deadline = time.time() + 60
        open_now = 0
        while time.time() < deadline:
            _, _, body = server.request("GET", "/metrics")
            match = re.search(rb"^callsign_open_connections (\d+)", body, re.M)
            open_now = int(match.group(1)) if match else 0
            if open_now >= count:
                break
            time.sleep(0.1)
        check(open_now >= count, "metrics show %d open connections, expected >= %d" % (open_now, count))
        for _ in range(50):
            status, _, body = server.request("GET", "/healthz")
            check(status == 200, "healthz with %d idle connections: %d %r" % (count, status, body))
        # The idle ones were not dropped to make room.
        sample = idle[::100]
        for sock in sample:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in sample:
            check(sock.recv(4096).startswith(b"HTTP/1.1 200"), "an idle connection was closed early")
    finally:
        for sock in idle:
            sock.close()
        server.cleanup()


def test_json_logs(server):
    server.request("GET", "/healthz")
    deadline = time.time() + 30  # the access line is written after the reply
    while time.time() < deadline and not any(r["msg"] == "request" for r in server.log_records()):
        time.sleep(0.05)
    records = server.log_records()
    check(any(r["msg"] == "listening" and r["port"] == server.port for r in records), "listening line has the port")
    requests = [r for r in records if r["msg"] == "request" and r["path"] == "/healthz"]
    check(requests and requests[-1]["status"] == 200 and "duration_ms" in requests[-1], "access log line")
    check(all("ts" in r and "level" in r for r in records), "every line has ts and level")


# A long drain limit, so that waiting it out (instead of closing idle connections at once and
# exiting once the in-flight request is answered) cannot pass for a prompt shutdown.
SHUTDOWN_CONFIG = CONFIG.replace("shutdown_timeout_ms = 5000", "shutdown_timeout_ms = 30000")


def test_graceful_shutdown(server):
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    busy = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    # A request whose header has arrived is in flight: it must still be answered. Its
    # `100 Continue` shows that the header has arrived.
    busy.sendall(b"POST /v1/unknown HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\nab")
    interim = b""
    while b"\r\n\r\n" not in interim:
        chunk = busy.recv(1)
        check(chunk, "closed before the interim response")
        interim += chunk
    check(interim.startswith(b"HTTP/1.1 100"), "interim response %r" % interim)
    started = time.time()
    server.proc.send_signal(signal.SIGTERM)
    # The drain has begun once the idle connection is closed (at once, not at the drain limit);
    # only then does the in-flight request's body complete.
    idle.settimeout(20)
    try:
        check(idle.recv(1) == b"", "the idle connection received data during the drain")
    except socket.timeout:
        check(False, "the idle connection was still open 20 s after SIGTERM")
    idle_closed = time.time() - started
    busy.sendall(b"cdef")
    reply = busy.recv(65536)
    check(reply.startswith(b"HTTP/1.1 404"), "in-flight request answered during drain: %r" % reply[:60])
    check(b"Connection: close" in reply, "drain closes keep-alive connections")
    code = server.proc.wait(timeout=60)
    elapsed = time.time() - started
    check(code == 0, "exit code %d" % code)
    # Bounded by the 30 s drain limit, which a server that waited for its connections would reach.
    check(idle_closed < 15, "the idle connection was closed %.1f s after SIGTERM, not at once" % idle_closed)
    check(elapsed < 15, "shutdown took %.1f s: it waited for the drain limit" % elapsed)
    # After shutdown nothing listens any more.
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        check(False, "port still accepting after exit")
    except OSError:
        pass
    idle.close()
    busy.close()


def test_bad_config_stops_startup():
    import subprocess
    import tempfile
    tmp = tempfile.mkdtemp(prefix="callsign-it-")
    atexit.register(shutil.rmtree, tmp, True)
    path = os.path.join(tmp, "bad.toml")
    with open(path, "w") as f:
        f.write("[limits]\nbody_bytes = -1\n")
    proc = subprocess.run([ARGS.callsignd, "--data-dir", os.path.join(tmp, "d"), "--config", path],
                          capture_output=True, text=True, timeout=60)
    check(proc.returncode == 2, "exit code %d" % proc.returncode)
    check("limits.body_bytes" in proc.stderr, "error names the key: %r" % proc.stderr)
    proc = subprocess.run([ARGS.callsignd, "--no-such-flag"], capture_output=True, text=True, timeout=60)
    check(proc.returncode == 2 and "unknown argument" in proc.stderr, proc.stderr)


def test_restart_keeps_key():
    first = Server(ARGS.callsignd, CONFIG)
    try:
        with open(os.path.join(first.data_dir, "master.key")) as f:
            key_before = f.read()
        check(first.stop() == 0, "first stop")
        second = Server(ARGS.callsignd, CONFIG, data_dir=first.data_dir)
        try:
            with open(os.path.join(first.data_dir, "master.key")) as f:
                check(f.read() == key_before, "master key unchanged by restart")
            check(second.json("GET", "/readyz")[0] == 200, "ready after restart")
        finally:
            second.cleanup()
    finally:
        first.cleanup()


def test_lost_master_key_beside_a_database_stops_startup():
    """A new ring could open none of the sealed secrets: a lost master.key is restored, not remade."""
    import subprocess
    first = Server(ARGS.callsignd, CONFIG)
    try:
        key_path = os.path.join(first.data_dir, "master.key")
        check(first.stop() == 0, "first stop")
        os.rename(key_path, key_path + ".saved")
        proc = subprocess.run([ARGS.callsignd, "--data-dir", first.data_dir, "--listen", "127.0.0.1:0"],
                              capture_output=True, text=True, timeout=60)
        check(proc.returncode == 1, "exit code %d, output %r" % (proc.returncode, proc.stdout + proc.stderr))
        check("master.key is missing" in proc.stdout and "restore master.key" in proc.stdout,
              "the log says what to do: %r" % proc.stdout)
        check(not os.path.exists(key_path), "no new ring was made")
        os.rename(key_path + ".saved", key_path)
        second = Server(ARGS.callsignd, CONFIG, data_dir=first.data_dir)
        try:
            check(second.json("GET", "/readyz")[0] == 200, "ready with the ring restored")
        finally:
            second.cleanup()  # SIGTERM, then requires exit 0 and no sanitizer report
    finally:
        first.cleanup()


def test_pages_and_dev_token(server):
    """Pages come from server.web_root; POST /v1/dev/token exists only in dev mode."""
    web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
    status, headers, body = server.request("POST", "/v1/dev/token", body=b'{"role":"admin","sub":"x"}',
                                           headers={"Content-Type": "application/json"})
    problem(status, headers, body, 404)
    check(b"dev mode" in body, "404 explains dev mode: %r" % body)
    # This server's web_root is the default "web" relative to its working directory: no pages there.
    problem(*server.request("GET", "/"), 404)
    dev = Server(ARGS.callsignd, CONFIG + '\n[server]\ndev_mode = true\nweb_root = %s\n' % json.dumps(web))
    try:
        status, headers, body = dev.request("GET", "/admin")
        check(status == 200 and headers["content-type"].startswith("text/html"), "admin page: %s" % status)
        check(headers.get("x-frame-options") == "DENY", "X-Frame-Options on pages")
        check("frame-ancestors 'none'" in headers.get("content-security-policy", ""), "CSP on pages")
        problem(*dev.request("GET", "/static/..%2f..%2fCMakeLists.txt"), 400)  # the router refuses '/' in a name
        problem(*dev.request("GET", "/static/nothing.js"), 404)
        status, headers, reply = dev.json("POST", "/v1/dev/token", body=b'{"role":"admin","sub":"ops-9"}',
                                          headers={"Content-Type": "application/json"})
        check(status == 200 and reply["token"].count(".") == 2 and reply["expires_in"] == 3600, "dev token")
        check(dev.json("GET", "/v1/audit?limit=1", headers={"Authorization": "Bearer " + reply["token"]})[0] == 200,
              "the dev token is accepted")
        problem(*dev.request("POST", "/v1/dev/token", body=b'{"role":"root","sub":"x"}',
                             headers={"Content-Type": "application/json"}), 400)
        problem(*dev.request("POST", "/v1/dev/token", body=b'{"role":"admin","sub":"x","exp":1}',
                             headers={"Content-Type": "application/json"}), 400)
    finally:
        dev.cleanup()


CASES = [
    ("health_and_ready", with_server(test_health_and_ready)),
    ("data_dir_created", with_server(test_data_dir_created)),
    ("metrics", with_server(test_metrics)),
    ("not_found_and_method", with_server(test_not_found_and_method)),
    ("malformed_request", with_server(test_malformed_request)),
    ("body_limit", with_server(test_body_limit)),
    ("expect_continue", with_server(test_expect_continue)),
    ("header_limit", with_server(test_header_limit)),
    ("connection_cap_per_ip", test_connection_cap_per_ip),
    ("idle_connections_do_not_block_requests", test_idle_connections_do_not_block_requests),
    ("json_logs", with_server(test_json_logs)),
    ("graceful_shutdown", with_server(test_graceful_shutdown, SHUTDOWN_CONFIG)),
    ("bad_config_stops_startup", test_bad_config_stops_startup),
    ("restart_keeps_key", test_restart_keeps_key),
    ("lost_master_key_beside_a_database_stops_startup", test_lost_master_key_beside_a_database_stops_startup),
    ("pages_and_dev_token", with_server(test_pages_and_dev_token)),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
