"""Integration: POST /v1/login/check with every signal on, against the real callsignd.

Real data: the open-proxy union (every listed address flags, neighbours outside it don't), the
default-credential pairs from default-credentials.csv built into a keyed set by the real CLI
(pairs flag, the same usernames with other passwords don't), a generated HIBP sample with real
SHA-1s, a device list, and a block from five failed logins. Also bad requests (400, never echoing
the password), the role check, and that no password reaches the log or the audit journal."""
import csv
import hashlib
import io
import ipaddress
import json
import os
import random
import shutil
import tempfile

from harness import (Server, bearer, check, check_problem, cli, json_headers, mint_token, parse_args, run_cases)

ARGS, _ = parse_args()
SHARED = os.environ.get("CALLSIGN_SHARED_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared")
DATA = os.path.join(SHARED, "data")
UNION = os.path.join(DATA, "open-proxies", "union.ipset")
CREDENTIALS = os.path.join(DATA, "credentials", "default-credentials.csv")
CONFIG = """
[lists]
max_upload_bytes = 4194304
"""
SIGNALS = ["open_proxy", "exposed_credential", "exposed_password", "managed_device", "blocked", "retry_after",
           "exposed_credential_check"]
# Issue 19: the rules' decision beside the signals (docs/rules.md, "Where rules act").
DECISION = ["decision", "shadow_rules", "logged_rules"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def put_list(server, token, name, content):
    status, _, raw = server.request("PUT", "/v1/admin/lists/" + name, content,
                                    bearer(token, {"Content-Type": "application/octet-stream"}))
    check(status == 200, "PUT %s: %d %r" % (name, status, raw[:300]))


def union_addresses():
    out = []
    for line in read(UNION).decode().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def csv_pairs():
    """(username, password) rows of the CSV, as the CLI reads them (column 2 and 3)."""
    with open(CREDENTIALS, "rb") as f:
        rows = list(csv.reader(io.TextIOWrapper(f, encoding="utf-8", newline="")))[1:]
    return [(r[1], r[2]) for r in rows if r[1].strip()]


class Checker:
    def __init__(self, server, token):
        self.server = server
        self.token = token
        self.calls = 0

    def check_login(self, **body):
        status, headers, raw = self.server.request("POST", "/v1/login/check", json.dumps(body),
                                                   json_headers(self.token))
        self.calls += 1
        check(status == 200, "login/check %r: %d %r" % ({k: v for k, v in body.items() if k != "password"}, status,
                                                         raw[:200]))
        doc = json.loads(raw)
        check(sorted(doc) == sorted(SIGNALS + DECISION), "fields %r" % sorted(doc))
        return doc


def test_every_signal_with_real_data():
    server = Server(ARGS.callsignd, CONFIG)
    work = tempfile.mkdtemp(prefix="callsign-check-")
    try:
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "check-admin")
        service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")
        checker = Checker(server, service)

        # Before any list is loaded every list signal is false.
        empty = checker.check_login(ip="203.0.113.9", username="admin", password="admin", device_serial="X1")
        check(not any(empty[k] for k in SIGNALS if k != "exposed_credential_check") and
              empty["exposed_credential_check"] == 0, "signals without lists: %r" % empty)

        # Lists: the open-proxy union, the CSV pairs (built by the real CLI), HIBP, devices.
        put_list(server, admin, "open_proxies", read(UNION))
        creds = os.path.join(work, "creds.set")
        built = cli(ARGS.callsign, "breach", "build", "--data-dir", server.data_dir, "--pairs", CREDENTIALS, "--csv",
                    "--user-column", "2", "--password-column", "3", "--header", "--out", creds)
        check(built.returncode == 0, "breach build: %s" % built.stderr)
        put_list(server, admin, "exposed_credentials", read(creds))
        hibp = os.path.join(work, "pwned.txt")
        pwned = ["pwned-%d-%s" % (i, os.urandom(4).hex()) for i in range(2000)]
        with open(hibp, "w") as f:
            for i, password in enumerate(pwned):
                f.write("%s:%d\n" % (hashlib.sha1(password.encode()).hexdigest().upper(), i + 1))
        pw_set = os.path.join(work, "pwned.set")
        built = cli(ARGS.callsign, "breach", "import-hibp", "--in", hibp, "--out", pw_set)
        check(built.returncode == 0, "import-hibp: %s" % built.stderr)
        put_list(server, admin, "exposed_passwords", read(pw_set))
        put_list(server, admin, "managed_devices", b"SN-LAPTOP-0001\nSN-LAPTOP-0002\n")

        # Open proxies: a sample of every listed address flags; neighbours outside don't.
        listed = union_addresses()
        listed_set = set(listed)
        rng = random.Random(5)
        for ip in rng.sample(listed, 300):
            check(checker.check_login(ip=ip)["open_proxy"], "%s is in union.ipset but did not flag" % ip)
        outside = 0
        for ip in rng.sample(listed, 300):
            neighbour = str(ipaddress.ip_address(ip) + 1)
            if neighbour in listed_set:
                continue
            outside += 1
            check(not checker.check_login(ip=neighbour)["open_proxy"], "%s is not listed but flagged" % neighbour)
        check(outside > 100, "too few unlisted neighbours tried (%d)" % outside)
        mapped = "::ffff:" + listed[0]
        check(checker.check_login(ip=mapped)["open_proxy"], "IPv4-mapped IPv6 form of a listed address")

        # Exposed pairs: every CSV pair flags (1); the same usernames with another password don't.
        pairs = csv_pairs()
        for username, password in rng.sample(pairs, 250):
            doc = checker.check_login(ip="198.51.100.7", username=username, password=password)
            check(doc["exposed_credential"] and doc["exposed_credential_check"] == 1,
                  "a default-credentials pair did not flag (user %r)" % username)
        all_pairs = {(u.strip().lower(), p) for u, p in pairs}
        for username, _ in rng.sample(pairs, 100):
            other = "not-the-default-" + os.urandom(6).hex()
            check((username.strip().lower(), other) not in all_pairs, "generated password collides")
            doc = checker.check_login(ip="198.51.100.7", username=username, password=other)
            check(not doc["exposed_credential"] and doc["exposed_credential_check"] == 0,
                  "user %r with another password flagged" % username)
        # Normalization: case and surrounding spaces in the username do not matter.
        username, password = next((u, p) for u, p in pairs if u.strip() and u.strip().lower() != u.strip().upper())
        doc = checker.check_login(ip="198.51.100.7", username="  " + username.upper() + " ", password=password)
        check(doc["exposed_credential"], "the normalized username did not match")

        # Exposed passwords (4), and a pair beats a password (1).
        for password in rng.sample(pwned, 50):
            doc = checker.check_login(ip="198.51.100.7", username="someone-" + os.urandom(3).hex(), password=password)
            check(doc["exposed_password"] and not doc["exposed_credential"] and doc["exposed_credential_check"] == 4,
                  "HIBP password: %r" % doc)
        doc = checker.check_login(ip="198.51.100.7", password="fresh-" + os.urandom(8).hex())
        check(not doc["exposed_password"], "an unlisted password flagged")

        # Devices.
        check(checker.check_login(ip="198.51.100.7", device_serial="SN-LAPTOP-0002")["managed_device"], "device")
        check(not checker.check_login(ip="198.51.100.7", device_serial="SN-LAPTOP-0003")["managed_device"],
              "unknown device flagged")

        # Blocks: five failures for one address block it; the check reports it with retry_after.
        for _ in range(5):
            status, _, raw = server.request("POST", "/v1/login/result",
                                            json.dumps({"ip": "192.0.2.77", "username": "victim", "success": False}),
                                            json_headers(service))
            check(status == 200, "login/result: %d %r" % (status, raw))
        doc = checker.check_login(ip="192.0.2.77", username="someone-else", password="x")
        check(doc["blocked"] and 3500 <= doc["retry_after"] <= 3600, "blocked address: %r" % doc)
        check(doc["decision"] == {"action": "block", "rule_id": "ip"}, "the block's decision: %r" % doc["decision"])
        doc = checker.check_login(ip="192.0.2.78", username="victim", password="x")
        check(doc["blocked"], "blocked username from another address: %r" % doc)
        check(doc["decision"] == {"action": "block", "rule_id": "username"}, "decision: %r" % doc["decision"])
        doc = checker.check_login(ip="192.0.2.78", username="someone-else", password="x")
        check(not doc["blocked"] and doc["retry_after"] == 0, "unrelated attempt blocked: %r" % doc)
        check(doc["decision"] == {"action": "allow", "rule_id": None} and doc["shadow_rules"] == [],
              "no rules, no decision: %r" % doc)

        # Bad requests: precise 400s that never echo the password; other roles refused.
        secret = "hunter2-" + os.urandom(6).hex()
        bad_bodies = [
            {"username": "u", "password": secret},
            {"ip": "300.1.2.3", "password": secret},
            {"ip": "192.0.2.1", "password": 12345},
            {"ip": "192.0.2.1", "password": secret, "otp": secret},
            {"ip": "192.0.2.1", "username": "   ", "password": secret},
            {"ip": "192.0.2.1", "password": secret * 200},
        ]
        for body in bad_bodies:
            status, headers, raw = server.request("POST", "/v1/login/check", json.dumps(body), json_headers(service))
            check_problem(status, headers, raw, 400)
            check(secret.encode() not in raw, "a 400 echoed the password")
        status, headers, raw = server.request("POST", "/v1/login/check", '{"ip": "192.0.2.1", "password": "%s"' % secret,
                                              json_headers(service))
        check_problem(status, headers, raw, 400)
        check(secret.encode() not in raw, "a malformed-JSON 400 echoed the password")
        status, headers, raw = server.request("POST", "/v1/login/check", json.dumps({"ip": "192.0.2.1"}),
                                              json_headers(admin))
        check_problem(status, headers, raw, 403)

        # Passwords never reach the log or the journal.
        checker.check_login(ip="192.0.2.1", username="audited", password=secret)
        export = cli(ARGS.callsign, "audit", "export", "--data-dir", server.data_dir)
        check(export.returncode == 0, "audit export: %s" % export.stderr)
        logged = "\n".join(server.lines + server.stderr)
        check(secret not in logged and secret not in export.stdout, "the password leaked to the log or the journal")
        print("  %d checks" % checker.calls, flush=True)
    finally:
        server.stop()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_cases([("every_signal_with_real_data", test_every_signal_with_real_data)]))
