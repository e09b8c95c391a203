"""Integration: a real nginx on loopback, auth_request to callsignd's /v1/login/gate, in front
of a small login application. After five failed logins from one address are reported to
/v1/login/result, that address gets 429 with Retry-After through nginx; others still pass.
nginx runs docs/nginx/login-gate.conf as it is, only its three placeholders filled in."""
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

from harness import Server, check, json_headers, mint_token, parse_args, run_cases
import json

ARGS, _ = parse_args()
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(SOURCE_DIR, "docs", "nginx", "login-gate.conf")
CLIENT = "127.0.0.2"  # the "attacker": loopback, but another address than nginx itself
BYSTANDER = "127.0.0.3"


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
    def __init__(self, callsign_port, app_port):
        self.tmp = tempfile.mkdtemp(prefix="callsign-nginx-")
        self.port = free_port()
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
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("nginx exited: %s" % self.log())
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
        if self.proc.poll() is None:
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


CASES = [
    ("documented_config_is_the_tested_one", test_documented_config_is_the_tested_one),
    ("nginx_returns_429_after_five_failures", test_nginx_returns_429_after_five_failures),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
