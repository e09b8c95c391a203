"""Integration: a real nginx on loopback, auth_request to callsignd's /v1/login/gate, in front
of a small login application. After five failed logins from one address are reported to
/v1/login/result, that address gets 429 with Retry-After through nginx; others still pass.
With login.gate_block_open_proxies on and an open_proxies list uploaded, an address on the list
gets 403 through nginx and one not on it passes. nginx runs docs/nginx/login-gate.conf as it
is, only its three placeholders filled in."""
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import Server, bearer, check, json_headers, mint_token, parse_args, run_cases
import json
import re

ARGS, _ = parse_args()
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(SOURCE_DIR, "docs", "nginx", "login-gate.conf")
CLIENT = "127.0.0.2"  # the "attacker": loopback, but another address than nginx itself
BYSTANDER = "127.0.0.3"
PROXY = "127.0.0.4"  # on the open_proxies list in the open-proxy case


class LoginApp(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"login page\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx -p <temp dir> running the documented site. nginx cannot listen on port 0, so it gets
    a port that was free a moment ago; should another process take it first, nginx fails to bind
    and the next attempt takes another port."""

    ATTEMPTS = 5

    def __init__(self, callsign_port, app_port):
        for attempt in range(1, self.ATTEMPTS + 1):
            self.tmp = tempfile.mkdtemp(prefix="callsign-nginx-")
            self.port = free_port()
            if self._start(callsign_port, app_port):
                return
            lost = self.log()
            self.stop()
            check(attempt < self.ATTEMPTS, "nginx lost its port %d times; last: %s" % (self.ATTEMPTS, lost))

    def _start(self, callsign_port, app_port):
        """True once nginx listens; False if the port was taken; raises on any other failure."""
        with open(TEMPLATE) as f:
            site = f.read()
        site = site.replace("__LISTEN__", "127.0.0.1:%d" % self.port)
        site = site.replace("__CALLSIGN__", "127.0.0.1:%d" % callsign_port)
        site = site.replace("__LOGIN_APP__", "127.0.0.1:%d" % app_port)
        with open(os.path.join(self.tmp, "login-gate.conf"), "w") as f:
            f.write(site)
        self.error_log = os.path.join(self.tmp, "error.log")
        main = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/login-gate.conf;
}}
""".format(tmp=self.tmp)
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(main)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        test = subprocess.run([nginx, "-t", "-p", self.tmp, "-e", self.error_log, "-c", conf],
                              capture_output=True, text=True)
        check(test.returncode == 0, "nginx -t failed: %s" % test.stderr)
        self.proc = subprocess.Popen([nginx, "-p", self.tmp, "-e", self.error_log, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # nginx writes its pid file once its listening sockets are bound, so a connection cannot
        # reach whichever process held the port before.
        pid_file = os.path.join(self.tmp, "nginx.pid")
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if re.search(r"bind\(\) to 127\.0\.0\.1:%d failed \(98: Address already in use\)" % self.port,
                             self.log()):
                    return False
                raise RuntimeError("nginx exited: %s" % self.log())
            try:
                with open(pid_file) as f:
                    if f.read().strip() == str(self.proc.pid):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("nginx did not start listening: %s" % self.log())

    def get(self, path, source):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(source, 0))
        try:
            conn.request("GET", path)
            res = conn.getresponse()
            return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.read()
        finally:
            conn.close()

    def log(self):
        try:
            with open(self.error_log) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def test_documented_config_is_the_tested_one():
    with open(TEMPLATE) as f:
        conf = f.read()
    with open(os.path.join(SOURCE_DIR, "docs", "login-gate.md")) as f:
        doc = f.read()
    check("```nginx\n" + conf + "```" in doc, "docs/login-gate.md does not show docs/nginx/login-gate.conf verbatim")


def test_nginx_returns_429_after_five_failures():
    server = Server(ARGS.callsignd, '[login]\ntrusted_proxies = ["127.0.0.1"]\n')
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginApp)
    app_thread = threading.Thread(target=app.serve_forever, daemon=True)
    app_thread.start()
    nginx = None
    try:
        nginx = Nginx(server.port, app.server_address[1])
        status, _, body = nginx.get("/login", CLIENT)
        check(status == 200 and body == b"login page\n", "before any failure: %d %r\n%s" % (status, body, nginx.log()))

        service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")
        for attempt in range(1, 6):
            status, _, reply = server.json("POST", "/v1/login/result",
                                           json.dumps({"ip": CLIENT, "username": "victim", "success": False}),
                                           json_headers(service))
            check(status == 200, "failure %d: %d %r" % (attempt, status, reply))
            check(reply["blocked"] == (attempt == 5), "failure %d: %r" % (attempt, reply))

        status, headers, body = nginx.get("/login", CLIENT)
        check(status == 429, "after five failures: %d %r\n%s" % (status, body, nginx.log()))
        retry = int(headers.get("retry-after", "0"))
        check(3500 <= retry <= 3600, "Retry-After %r" % headers.get("retry-after"))
        status, _, body = nginx.get("/login", BYSTANDER)
        check(status == 200, "another address must pass: %d %r" % (status, body))

        # Lifting the block opens the door again.
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops")
        status, _, reply = server.json("DELETE", "/v1/admin/blocks/" + CLIENT, headers={"Authorization": "Bearer " + admin})
        check(status == 200 and reply["lifted"]["key"] == CLIENT, "lift: %d %r" % (status, reply))
        status, _, body = nginx.get("/login", CLIENT)
        check(status == 200, "after the lift: %d %r" % (status, body))
    finally:
        if nginx is not None:
            nginx.stop()
        app.shutdown()
        app.server_close()
        server.cleanup()


def gate_metric(server, name):
    _, _, body = server.request("GET", "/metrics")
    match = re.search(rb"^%s (\d+)" % name.encode(), body, re.M)
    return int(match.group(1)) if match else None


def test_nginx_returns_403_for_an_open_proxy():
    """docs/login-gate.md: login.gate_block_open_proxies makes the gate answer 403 for an address
    on the open_proxies list; auth_request passes the 403 on. The address is the one nginx
    vouches for in X-Forwarded-For (login.trusted_proxies has nginx's 127.0.0.1)."""
    server = Server(ARGS.callsignd, '[login]\ntrusted_proxies = ["127.0.0.1"]\ngate_block_open_proxies = true\n')
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginApp)
    app_thread = threading.Thread(target=app.serve_forever, daemon=True)
    app_thread.start()
    nginx = None
    try:
        nginx = Nginx(server.port, app.server_address[1])
        # No list loaded yet: the policy refuses no one.
        status, _, body = nginx.get("/login", PROXY)
        check(status == 200 and body == b"login page\n", "before the upload: %d %r\n%s" % (status, body, nginx.log()))

        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops")
        listed = "# open proxies\n192.0.2.10\n%s\n198.51.100.0/24\n" % PROXY
        status, _, reply = server.json("PUT", "/v1/admin/lists/open_proxies", listed.encode(),
                                       bearer(admin, {"Content-Type": "application/octet-stream"}))
        check(status == 200 and reply["changed"] is True and reply["list"]["entries"] == 3,
              "upload open_proxies: %d %r" % (status, reply))

        status, _, body = nginx.get("/login", PROXY)
        check(status == 403, "an address on open_proxies: %d %r\n%s" % (status, body, nginx.log()))
        check(b"login page" not in body, "the login application answered an open proxy")
        check(gate_metric(server, "callsign_login_gate_open_proxy_total") == 1, "the gate did not count the refusal")
        status, _, body = nginx.get("/login", BYSTANDER)
        check(status == 200 and body == b"login page\n", "an address not on the list: %d %r" % (status, body))
        # The client's own X-Forwarded-For cannot claim another address: nginx appends the one it
        # saw, and callsignd takes the rightmost hop it does not trust.
        conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30, source_address=(PROXY, 0))
        try:
            conn.request("GET", "/login", headers={"X-Forwarded-For": BYSTANDER})
            res = conn.getresponse()
            res.read()
            check(res.status == 403, "an open proxy claiming another address in X-Forwarded-For: %d" % res.status)
        finally:
            conn.close()
    finally:
        if nginx is not None:
            nginx.stop()
        app.shutdown()
        app.server_close()
        server.cleanup()


SEED_RULES = """
[[rule]]
id = "seed"
expression = 'http.request.uri.path contains "/login" and (not ip.src in $open_proxies and bot.score < 30)'
action = "block"

[[rule]]
id = "step-up"
expression = 'http.request.headers["x-step-up"] eq "please" and http.request.method eq "GET"'
action = "challenge"
"""


def test_the_seeds_rule_through_nginx():
    """Issue 19: the seed's own rule, as written there (with $open_proxies and bot.score), decides
    through nginx: a /login request outside the open-proxy list with a bot score under 30 gets
    403; a higher score, an address on the list or no score at all passes; a challenge rule turns
    into the documented 303 to /challenge."""
    work = tempfile.mkdtemp(prefix="callsign-gate-rules-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    with open(os.path.join(data_dir, "rules.toml"), "w") as f:
        f.write(SEED_RULES)
    server = Server(ARGS.callsignd, '[login]\ntrusted_proxies = ["127.0.0.1"]\n', data_dir=data_dir)
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginApp)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    nginx = None
    try:
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops")
        status, _, reply = server.json("PUT", "/v1/admin/lists/open_proxies", ("%s\n" % PROXY).encode(),
                                       bearer(admin, {"Content-Type": "application/octet-stream"}))
        check(status == 200 and reply["list"]["entries"] == 1, "upload open_proxies: %d %r" % (status, reply))
        nginx = Nginx(server.port, app.server_address[1])

        def get(source, headers):
            conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30, source_address=(source, 0))
            try:
                conn.request("GET", "/login?next=/home", headers=headers)
                res = conn.getresponse()
                return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.read()
            finally:
                conn.close()

        status, _, body = get(CLIENT, {"X-Bot-Score": "12"})
        check(status == 403 and b"login page" not in body, "a likely bot: %d %r\n%s" % (status, body, nginx.log()))
        status, _, body = get(CLIENT, {"X-Bot-Score": "85"})
        check(status == 200 and body == b"login page\n", "a likely human: %d %r" % (status, body))
        status, _, body = get(PROXY, {"X-Bot-Score": "12"})
        check(status == 200, "the seed's rule exempts listed proxies: %d %r" % (status, body))
        status, _, body = get(CLIENT, {})
        check(status == 200, "no score: bot.score < 30 is false: %d %r" % (status, body))
        status, headers, body = get(BYSTANDER, {"X-Bot-Score": "85", "X-Step-Up": "please"})
        check(status == 303 and headers.get("location", "").endswith("/challenge") and b"login page" not in body,
              "a challenge: %d %r %r" % (status, headers, body))
        check(gate_metric(server, "callsign_login_gate_rule_blocked_total") == 1, "rule blocks counted")
        check(gate_metric(server, "callsign_login_gate_challenged_total") == 1, "challenges counted")
        _, _, raw = server.request("GET", "/metrics")
        check(b'callsign_rule_hits_total{rule="seed",mode="enforce"} 1' in raw, "the seed rule's hits")
    finally:
        if nginx is not None:
            nginx.stop()
        app.shutdown()
        app.server_close()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


CASES = [
    ("the_seeds_rule_through_nginx", test_the_seeds_rule_through_nginx),
    ("documented_config_is_the_tested_one", test_documented_config_is_the_tested_one),
    ("nginx_returns_429_after_five_failures", test_nginx_returns_429_after_five_failures),
    ("nginx_returns_403_for_an_open_proxy", test_nginx_returns_403_for_an_open_proxy),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
