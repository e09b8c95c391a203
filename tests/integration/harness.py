"""What the integration suites share: the real callsignd (callsignd_process.Server), the case
runner, and helpers for tokens, codes, problems and the audit API."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import subprocess
import time
import traceback

from callsignd_process import SANITIZER_REPORT, Server  # noqa: F401 - suites import both from here


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callsignd", required=True)
    parser.add_argument("--callsign", required=True)
    args, rest = parser.parse_known_args()
    return args, rest


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
            if not isinstance(exc, AssertionError):  # an unexpected error: say where it came from
                print("     " + "".join(traceback.format_tb(exc.__traceback__)[-3:]).strip().replace("\n", "\n     "),
                      flush=True)
            for server in Server.started:
                report = "" if server.crash_reported else server.crash_report()
                if report:
                    server.crash_reported = True
                    print("     %s" % report, flush=True)
    print("%d passed, %d failed" % (len(cases) + 1 - failed, failed))
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# Helpers for the /v1/ API tests: tokens, codes, time steps, problem responses, the audit API.


def on_fresh_server(callsignd, config_text, fn):
    """A case: fn(server) against a fresh callsignd with `config_text`, which is then stopped
    with SIGTERM and must exit 0 (cleanup)."""
    def run():
        server = Server(callsignd, config_text)
        try:
            fn(server)
        finally:
            server.cleanup()
    return run


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


def responses(raw):
    """The status codes of every HTTP/1.1 response in the raw bytes `raw`, in order."""
    return [int(m.group(1)) for m in re.finditer(rb"HTTP/1\.1 (\d{3}) ", raw)]


def raw_exchange(port, payload, timeout=10):
    """Sends the raw bytes `payload` to 127.0.0.1:`port` on one connection; returns everything
    the server sent and whether it closed the connection (EOF before `timeout`)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return b"".join(chunks), False
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)


def problem_of(raw):
    """The problem+json body of the first raw response in `raw` (checked to be one)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    check(b"content-type: application/problem+json" in head.lower(), "not a problem: %r" % raw[:300])
    length = re.search(rb"(?im)^content-length: *(\d+)\r?$", head)
    return json.loads(body[:int(length.group(1))] if length else body)  # a pipelined response may follow


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


def oathtool(secret, at=None):
    """The TOTP code of a base32 secret at `at` (now when None), computed by Debian's oathtool."""
    if shutil.which("oathtool") is None:
        raise AssertionError("oathtool is not installed (Debian package 'oathtool', listed in tools/packages.txt)")
    args = ["oathtool", "--totp", "-b"]
    if at is not None:
        args += ["--now", "@%d" % at]
    out = subprocess.run(args + [secret], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, "oathtool failed: %s" % out.stderr)
    code = out.stdout.strip()
    check(re.fullmatch(r"[0-9]{6}", code) is not None, "oathtool printed %r" % out.stdout)
    return code
