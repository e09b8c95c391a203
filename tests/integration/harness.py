"""Starts the real callsignd on port 0 in a temp data dir, for integration tests."""
import argparse
import atexit
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import http.client
import re
import sys


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callsignd", required=True)
    parser.add_argument("--callsign", required=True)
    args, rest = parser.parse_known_args()
    return args, rest


# What a sanitizer prints when it reports (ASan, LSan, UBSan): a server that printed one did not
# exit cleanly, whatever its status.
SANITIZER_REPORT = re.compile(r"ERROR: \w*Sanitizer|SUMMARY: \w*Sanitizer|runtime error:")


class Server:
    """One callsignd process; stdout (JSON-lines log) is collected in `lines`.

    End every server with cleanup(): it stops a running server with SIGTERM and raises
    AssertionError unless it exited 0 without a sanitizer report (so LeakSanitizer's exit check
    counts), or, after a planned stop(SIGKILL), with -9. Called while an exception propagates (a
    failing test's `finally`), it kills at once and checks nothing, so the first error stays the
    one reported and no process is left behind."""

    started = []  # every Server, so run_cases can name a crash behind a failure

    def __init__(self, binary, config_text="", extra_args=(), data_dir=None, tls=False, plaintext=True):
        """tls: the config enables [tls]; its port is read from --tls-port-file into tls_port.
        plaintext=False: the config turns the plain listener off (port stays None)."""
        self.crash_reported = False
        self.planned_kill = False  # stop(SIGKILL) was asked for: -9 is then the clean exit
        self.stop_timed_out = False
        self.checked = False  # cleanup() ran: its exit was checked, or the case had failed
        self.tmp = tempfile.mkdtemp(prefix="callsign-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port_file = os.path.join(self.tmp, "port")
        self.tls_port_file = os.path.join(self.tmp, "tls-port")
        config_path = os.path.join(self.tmp, "callsign.toml")
        with open(config_path, "w") as f:
            f.write(config_text)
        cmd = [binary, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
               "--port-file", self.port_file, "--config", config_path, *extra_args]
        if tls:
            cmd += ["--tls-port-file", self.tls_port_file]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        Server.started.append(self)
        self.lines = []
        self.stderr = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()
        try:
            self.port = self._wait_for_port(self.port_file) if plaintext else None
            self.tls_port = self._wait_for_port(self.tls_port_file) if tls else None
        except Exception:
            self.cleanup()  # an exception propagates: kills, checks nothing
            raise

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _wait_for_port(self, port_file):
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            if self.proc.poll() is not None:
                raise RuntimeError("callsignd exited early: %s\n%s" % (self.proc.returncode,
                                                                       "\n".join(self.lines + self.stderr)))
            time.sleep(0.05)
        raise RuntimeError("callsignd did not write its port file")

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            data = res.read()
            return res.status, dict((k.lower(), v) for k, v in res.getheaders()), data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, hdrs, (json.loads(data) if data else None)

    def raw(self, payload, read_timeout=10):
        """Sends raw bytes, returns everything the server sends before closing."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as s:
            s.sendall(payload)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)

    def log_records(self):
        return [json.loads(line) for line in self.lines if line.strip()]

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends `sig` (if still running) and returns the exit status. A server that outlives
        `timeout` is killed; the status is then -9 and exit_problem() says why."""
        if self.proc.poll() is None:
            if sig == signal.SIGKILL:
                self.planned_kill = True
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop_timed_out = True
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        self._err_reader.join(timeout=5)
        return code

    def name(self):
        return "callsignd (pid %d, port %s, data dir %s)" % (self.proc.pid, getattr(self, "port", "?"),
                                                             getattr(self, "data_dir", "?"))

    def exit_problem(self):
        """Why this exited server did not end cleanly, or "" when it did: status 0 (-9 after a
        planned SIGKILL) and no sanitizer report on stderr."""
        code = self.proc.returncode
        expected = -signal.SIGKILL if self.planned_kill else 0
        reports = [l.strip() for l in self.stderr if SANITIZER_REPORT.search(l)]
        if code == expected and not reports and not self.stop_timed_out:
            return ""
        why = "did not exit within its stop timeout (killed)" if self.stop_timed_out else \
            "exited with status %s, expected %d" % (code, expected)
        tail = reports[:4] or [l.strip() for l in self.stderr[-4:]]
        return "%s %s%s" % (self.name(), why, (": " + " | ".join(tail)) if tail else "")

    def crash_report(self):
        """The sanitizer's ERROR/SUMMARY lines if callsignd died of one, else ""."""
        if not hasattr(self, "stderr") or self.proc.poll() is None:
            return ""
        time.sleep(0.2)  # let the stderr reader catch up
        lines = [l.strip() for l in self.stderr if "ERROR: " in l or "SUMMARY: " in l or "runtime error:" in l]
        if not lines:
            return ""
        return "callsignd (port %s) exited with %s: %s" % (self.port if hasattr(self, "port") else "?",
                                                          self.proc.returncode, " | ".join(lines[:4]))

    def cleanup(self):
        """SIGTERM and require a clean exit (see the class comment); while an exception
        propagates, SIGKILL and check nothing. Removes the temp dir either way."""
        failing = sys.exc_info()[0] is not None
        if self.checked:  # a second call (a suite's finally after run_cases stopped it)
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self.checked = True
        try:
            if failing:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                return
            self.stop()
            problem = self.exit_problem()
            if problem:
                self.crash_reported = True  # named here already
                raise AssertionError(problem)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@atexit.register
def _kill_leftover_servers():
    """A suite that died before its cleanup leaves no callsignd behind."""
    for server in Server.started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run_cases(cases):
    """Runs named test functions; prints a summary line; returns the exit code.
    A server left without cleanup() (a suite's shared one, say) is stopped and checked after
    the last case, as one more case."""
    failed = 0

    def stop_leftovers():
        problems = []
        for server in Server.started:
            if not server.checked:
                try:
                    server.cleanup()
                except AssertionError as exc:
                    problems.append(str(exc))
        check(not problems, "; ".join(problems))

    for name, fn in list(cases) + [("every callsignd exits 0 on SIGTERM", stop_leftovers)]:
        started = time.time()
        try:
            fn()
            print("PASS %s (%.1fs)" % (name, time.time() - started), flush=True)
        except Exception as exc:  # noqa: BLE001 - report every failure
            failed += 1
            print("FAIL %s: %s" % (name, exc), flush=True)
            for server in Server.started:
                report = "" if server.crash_reported else server.crash_report()
                if report:
                    server.crash_reported = True
                    print("     %s" % report, flush=True)
    print("%d passed, %d failed" % (len(cases) + 1 - failed, failed))
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# Helpers for the /v1/ API tests: tokens, codes, time steps, problem responses, the audit API.


def cli(binary, *args, timeout=60):
    """Runs the callsign CLI; returns the CompletedProcess (text mode)."""
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def mint_token(callsign, data_dir, role, sub, ttl=None):
    """A bearer token from `callsign token` (signed with <data_dir>/jwt-hs256.key)."""
    args = ["token", "--data-dir", data_dir, "--role", role, "--sub", sub]
    if ttl is not None:
        args += ["--ttl", str(ttl)]
    out = cli(callsign, *args)
    if out.returncode != 0:
        raise RuntimeError("callsign token failed (%d): %s" % (out.returncode, out.stderr))
    return out.stdout.strip()


def jwt_key(data_dir):
    """The development HS256 key callsignd created: the file's raw bytes."""
    with open(os.path.join(data_dir, "jwt-hs256.key"), "rb") as f:
        return f.read()


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft_token(key, claims, header=None, sign=True):
    """An HS256 JWT built here, independently of callsign (for negative cases)."""
    header = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing_input = b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")))
    signature = b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if sign else ""
    return signing_input + "." + signature


def claims_for(role, sub, ttl=3600, **overrides):
    now = int(time.time())
    claims = {"iss": "callsign", "aud": "callsign", "sub": sub, "role": role, "iat": now, "exp": now + ttl}
    claims.update(overrides)
    return claims


def bearer(token, extra=None):
    headers = {"Authorization": "Bearer " + token}
    headers.update(extra or {})
    return headers


def json_headers(token=None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    return headers


def hotp(secret, counter, digest=hashlib.sha1, digits=6):
    mac = hmac.new(secret, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % (10 ** digits)).zfill(digits)


def master_key(data_dir, version=None):
    """A master key of <data_dir>/master.key ("<version> <64 hex> [<created>]" lines): the
    newest, or the given version."""
    with open(os.path.join(data_dir, "master.key")) as f:
        rows = [l.split() for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
    if version is None:
        row = max(rows, key=lambda r: int(r[0]))
    else:
        row = next(r for r in rows if int(r[0]) == version)
    return bytes.fromhex(row[1])


def phone_token_at(data_dir, user_id, step, digits=6, digest=hashlib.sha1):
    """The spec's phone token: TOTP over HMAC-SHA256(master, "callsign phone-token\\0" || user)."""
    secret = hmac.new(master_key(data_dir), b"callsign phone-token\x00" + user_id.encode(), hashlib.sha256).digest()
    return hotp(secret, step, digest, digits)


def current_step(period, t0=0, now=None):
    return int(((time.time() if now is None else now) - t0) // period)


def wait_for_step_start(period, margin=0.15, t0=0):
    """Sleeps until `margin` seconds after the next step boundary; returns the new step.
    Tests that must stay inside one step call this first instead of relying on luck."""
    now = time.time()
    step = int((now - t0) // period) + 1
    time.sleep(max(0.0, t0 + step * period + margin - now))
    return step


def wrong_code(*right, digits=6):
    """A code of the right shape that is none of `right`."""
    candidate = 123456 % (10 ** digits)
    while str(candidate).zfill(digits) in right:
        candidate = (candidate + 1) % (10 ** digits)
    return str(candidate).zfill(digits)


def check_problem(status, headers, body, expected, detail_contains=None):
    """Checks a problem+json reply; returns the parsed problem."""
    check(status == expected, "expected %d, got %d: %r" % (expected, status, body[:300]))
    check(headers.get("content-type") == "application/problem+json",
          "status %d content-type was %r" % (status, headers.get("content-type")))
    doc = json.loads(body)
    check(doc.get("status") == expected and doc.get("title") and doc.get("detail"), "problem body %r" % doc)
    if detail_contains is not None:
        check(detail_contains in doc["detail"], "detail %r lacks %r" % (doc["detail"], detail_contains))
    return doc


def audit_entries(server, admin_token, user=None):
    """Every journal entry via GET /v1/audit (admin), following next_after."""
    entries = []
    after = 0
    while True:
        path = "/v1/audit?limit=500&after=%d" % after
        if user is not None:
            path += "&user=" + user
        status, _, body = server.json("GET", path, headers=bearer(admin_token))
        check(status == 200, "GET %s: %d %r" % (path, status, body))
        entries += body["entries"]
        if body["next_after"] is None:
            return entries
        after = body["next_after"]


def audit_count(server, admin_token):
    return len(audit_entries(server, admin_token))


class Node:
    """One callsignd (on a given or fresh data dir) with tokens minted from that dir's JWT key,
    and the calls most suites make through it."""

    def __init__(self, callsignd, callsign, config_text="", data_dir=None):
        self.callsign = callsign
        self.server = Server(callsignd, config_text, data_dir=data_dir)
        self.data_dir = self.server.data_dir
        self.tokens = {}

    def token(self, role, sub):
        if (role, sub) not in self.tokens:
            self.tokens[(role, sub)] = mint_token(self.callsign, self.data_dir, role, sub)
        return self.tokens[(role, sub)]

    def put_user(self, user_id):
        status, _, body = self.server.json("PUT", "/v1/users/" + user_id,
                                           json.dumps({"email": user_id + "@example.com", "phone_support": True}),
                                           json_headers(self.token("admin", "ops-1")))
        check(status in (200, 201), "PUT user %s: %d %r" % (user_id, status, body))

    def verify(self, user_id, code, agent="agent-1"):
        """POST /v1/verify, which must answer 200; returns the parsed reply."""
        status, _, body = self.server.json("POST", "/v1/verify", json.dumps({"user": user_id, "code": code}),
                                           json_headers(self.token("agent", agent)))
        check(status == 200, "verify %s: %d %r" % (user_id, status, body))
        return body

    def phone_token(self, user_id):
        """GET /v1/me/phone-token as that customer; returns the parsed reply."""
        status, _, body = self.server.json("GET", "/v1/me/phone-token", headers=bearer(self.token("customer", user_id)))
        check(status == 200, "phone-token: %d %r" % (status, body))
        return body

    def user(self, user_id):
        """GET /v1/users?email=<user_id>@example.com as an agent: (status, headers, body)."""
        return self.server.json("GET", "/v1/users?email=%s@example.com" % user_id,
                                headers=bearer(self.token("agent", "agent-1")))

    def audit(self):
        return audit_entries(self.server, self.token("admin", "ops-1"))
