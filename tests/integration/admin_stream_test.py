"""Integration: GET /v1/admin/stream, the admin console's live series (docs/admin-console.md),
with the real callsignd. An admin's stream gets the last hour first, then one tick a second; a
burst of failed logins (POST /v1/login/result) shows up in the next ticks' login.failures and
blocks.new within two seconds; verify outcomes are counted by kind (and in /metrics); a customer
token, a foreign Origin and a plain GET are refused; an expired admin token closes with 1008;
SIGTERM closes an open admin stream with 1012 and callsignd still exits 0."""
import ast
import json
import signal
import socket
import struct
import time

from harness import Node, bearer, check, check_problem, json_headers, mint_token, parse_args, run_cases, wrong_code
from ws_client import WebSocket

ARGS, _ = parse_args()
CONFIG = '[login]\ntrusted_proxies = ["127.0.0.1"]\n'
FIXED = ["login_checks.allow", "login_checks.block", "login_checks.challenge", "login.failures", "blocks.new",
         "matches.open_proxy", "matches.exposed_credential", "verify.valid", "verify.invalid", "verify.replayed",
         "verify.throttled"]


def admin_stream(node, token):
    ws = WebSocket(node.server.port, path="/v1/admin/stream")
    ws.send_json({"type": "auth", "token": token})
    return ws


def close_code(ws, timeout=10):
    """Reads until the server's close: (the last error message, the close code)."""
    error = None
    deadline = time.time() + timeout
    while True:
        try:
            message = ws.receive(max(deadline - time.time(), 0.01))
        except socket.timeout:
            return error, None  # still open
        except ConnectionError as exc:
            # ws_client reports a close frame as "stream closed by the server: <repr of its code bytes>".
            text = str(exc)
            if "closed by the server" not in text:
                return error, None
            payload = ast.literal_eval(text.split(": ", 1)[1])
            return error, struct.unpack(">H", payload)[0] if len(payload) == 2 else None
        if message.get("type") == "error":
            error = message.get("error")


def collect_ticks(ws, want, timeout):
    """Ticks until want(totals) holds; returns (totals, seconds waited, ticks)."""
    totals = {}
    ticks = []
    started = time.time()
    while True:
        left = started + timeout - time.time()
        check(left > 0, "ticks never reached the expected counts: %r after %d ticks" % (totals, len(ticks)))
        try:
            message = ws.receive(left)
        except socket.timeout:
            raise AssertionError("ticks never reached the expected counts: %r after %d ticks" % (totals, len(ticks)))
        if message["type"] != "tick":
            continue
        ticks.append(message)
        for name, count in message["values"].items():
            totals[name] = totals.get(name, 0) + count
        if want(totals):
            return totals, time.time() - started, ticks


def test_history_then_a_burst_of_failed_logins_in_the_next_ticks():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
    try:
        ws = admin_stream(node, node.token("admin", "ops-1"))
        history = ws.receive()
        check(history["type"] == "history", "first message: %r" % history)
        check(sorted(history["series"]) == sorted(FIXED), "history series: %r" % sorted(history["series"]))
        check(all(len(v) == history["seconds"] for v in history["series"].values()), "history arrays: %r" % history)
        first = ws.receive(3)  # ticks come once a second
        check(first["type"] == "tick" and set(first["values"]) == set(FIXED), "first tick: %r" % first)
        service = node.token("service", "login-frontend")
        # Seven failures from one address, each for another username: the default ip rule (5 in 10
        # minutes) blocks the address at the fifth; the username rule never trips.
        for i in range(7):
            status, _, body = node.server.json("POST", "/v1/login/result",
                                               json.dumps({"ip": "203.0.113.50", "username": "burst-user-%d" % i,
                                                           "success": False}), json_headers(service))
            check(status == 200, "login/result: %d %r" % (status, body))
        burst_done = time.time()
        totals, _, ticks = collect_ticks(ws, lambda t: t.get("login.failures", 0) >= 7 and t.get("blocks.new", 0) >= 1,
                                         timeout=10)
        waited = time.time() - burst_done
        # Ticks are sent just after each second ends: a burst is on the console within two seconds.
        check(waited <= 2.0, "the burst reached the stream %.2f s after it ended" % waited)
        check(totals["login.failures"] == 7 and totals["blocks.new"] == 1,
              "counted %r (exactly 7 failures and 1 block expected)" % totals)
        seconds = [t["t"] for t in [first] + ticks]
        check(seconds == sorted(set(seconds)), "tick seconds must increase: %r" % seconds)
        ws.close()
        # A second admin stream's history holds the burst in its per-second arrays.
        again = admin_stream(node, node.token("admin", "ops-2"))
        history = again.receive()
        check(sum(history["series"]["login.failures"]) == 7, "history after the burst: %r" % history["series"])
        check(sum(history["series"]["blocks.new"]) == 1, "history blocks: %r" % history["series"]["blocks.new"])
        again.close()
        print("     the burst reached the stream %.2f s after it ended" % waited)
    finally:
        node.server.cleanup()


def metric(node, name):
    status, _, body = node.server.request("GET", "/metrics")
    check(status == 200, "/metrics: %d" % status)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def test_verify_outcomes_by_kind():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG + "[verify]\nuser_failures = 2\n")
    try:
        ws = admin_stream(node, node.token("admin", "ops-1"))
        check(ws.receive()["type"] == "history", "history first")
        node.put_user("alice")
        node.put_user("bob")
        code = node.phone_token("alice")["token"]
        check(node.verify("alice", code)["valid"], "a right code is valid")
        check(not node.verify("alice", code)["valid"], "the same code again is a replay")
        check(not node.verify("bob", wrong_code(node.phone_token("bob")["token"]))["valid"], "a wrong code")
        check(not node.verify("bob", wrong_code(node.phone_token("bob")["token"]))["valid"], "a wrong code")
        status, _, _ = node.server.json("POST", "/v1/verify", json.dumps({"user": "bob", "code": "000000"}),
                                        json_headers(node.token("agent", "agent-1")))
        check(status == 429, "a third failure for bob is throttled: %d" % status)
        want = {"verify.valid": 1, "verify.replayed": 1, "verify.invalid": 2, "verify.throttled": 1}
        totals, _, _ = collect_ticks(ws, lambda t: all(t.get(k, 0) >= v for k, v in want.items()), timeout=10)
        check({k: totals[k] for k in want} == want, "verify ticks: %r" % totals)
        for name, count in (("valid", 1), ("replayed", 1), ("invalid", 2), ("throttled", 1)):
            got = metric(node, "callsign_verify_%s_total" % name)
            check(got == count, "callsign_verify_%s_total %d, expected %d" % (name, got, count))
        ws.close()
    finally:
        node.server.cleanup()


def test_refusals():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
    try:
        status, headers, body = node.server.request("GET", "/v1/admin/stream", headers=bearer(node.token("admin", "a")))
        check_problem(status, headers, body, 426)
        status, headers, body = node.server.request(
            "GET", "/v1/admin/stream", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                "Sec-WebSocket-Version": "13", "Origin": "https://evil.example"})
        check(status == 403, "a foreign Origin: %d" % status)
        for role in ("customer", "service", "agent"):
            ws = admin_stream(node, node.token(role, "someone"))
            error, code = close_code(ws)
            check(code == 1008 and error, "%s token: closed %r with %r" % (role, code, error))
        ws = admin_stream(node, "not-a-token")
        error, code = close_code(ws)
        check(code == 1008 and error == "invalid or expired token", "bad token: %r %r" % (code, error))
    finally:
        node.server.cleanup()


def test_an_expired_admin_token_closes_with_1008():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG + "[auth]\nleeway_seconds = 0\n")
    try:
        token = mint_token(ARGS.callsign, node.data_dir, "admin", "ops-1", ttl=3)
        ws = admin_stream(node, token)
        check(ws.receive()["type"] == "history", "history first")
        started = time.time()
        error, code = close_code(ws, timeout=10)
        check(code == 1008 and error == "token expired", "closed %r with %r" % (code, error))
        check(time.time() - started <= 5, "closed %.1f s after the auth" % (time.time() - started))
    finally:
        node.server.cleanup()


def test_sigterm_closes_an_open_admin_stream_with_1012():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
    try:
        ws = admin_stream(node, node.token("admin", "ops-1"))
        check(ws.receive()["type"] == "history", "history first")
        ws.receive(3)  # a tick: the timer runs
        node.server.proc.send_signal(signal.SIGTERM)
        error, code = close_code(ws, timeout=15)
        check(code == 1012 and error == "server restarting", "at SIGTERM: closed %r with %r" % (code, error))
        check(node.server.stop() == 0, "exit status after SIGTERM: %s" % node.server.exit_problem())
    finally:
        node.server.cleanup()


if __name__ == "__main__":
    raise SystemExit(run_cases([
        ("history, then a burst of failed logins in the next ticks", test_history_then_a_burst_of_failed_logins_in_the_next_ticks),
        ("verify outcomes by kind, on the stream and in /metrics", test_verify_outcomes_by_kind),
        ("a plain GET, a foreign Origin and non-admin tokens are refused", test_refusals),
        ("an expired admin token closes with 1008", test_an_expired_admin_token_closes_with_1008),
        ("SIGTERM closes an open admin stream with 1012, exit 0", test_sigterm_closes_an_open_admin_stream_with_1012),
    ]))
