"""Integration: failed-login limits with the real callsignd. Five failures block an address
(429 + Retry-After on /v1/login/gate), a restart keeps the block, DELETE /v1/admin/blocks lifts
it, IPv6 addresses are grouped by /64, shadow rules never block, a master-key rotation neither
lifts a username block nor resets a username's failures, and neither the audit journal nor the
log ever holds the username or a password."""
import json
import sys
import urllib.parse

from harness import (Server, audit_entries, bearer, check, check_problem, cli, json_headers, mint_token, parse_args,
                     run_cases)

ARGS, _ = parse_args()
USERNAME = "  Mallory.Secret-Name@Example.ORG "  # distinctive, so any leak is easy to find
NORMALIZED = "mallory.secret-name@example.org"
PASSWORD = "hunter2-never-sent"
CONFIG = '[login]\ntrusted_proxies = ["127.0.0.1"]\n'


def report(server, token, ip, success=False, username=USERNAME):
    status, _, body = server.json("POST", "/v1/login/result",
                                  json.dumps({"ip": ip, "username": username, "success": success}),
                                  json_headers(token))
    check(status == 200, "login result for %s: %d %r" % (ip, status, body))
    return body


def gate(server, ip):
    return server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": ip})


def no_leaks(server, admin):
    entries = audit_entries(server, admin)
    text = json.dumps(entries).lower() + "\n".join(server.lines).lower()
    for secret in (NORMALIZED, "mallory", PASSWORD):
        check(secret not in text, "%r appears in the audit journal or log" % secret)
    return entries


def test_five_failures_block_and_restart_keeps_it():
    server = Server(ARGS.callsignd, CONFIG)
    data_dir = server.data_dir
    try:
        service = mint_token(ARGS.callsign, data_dir, "service", "login-frontend")
        admin = mint_token(ARGS.callsign, data_dir, "admin", "ops")
        ip = "203.0.113.20"
        status, _, _ = gate(server, ip)
        check(status == 204, "gate before failures: %d" % status)
        for success in (True, True, True):
            check(not report(server, service, ip, success)["blocked"], "successes must not count")
        for attempt in range(1, 5):
            reply = report(server, service, ip)
            check(reply == {"blocked": False, "retry_after": 0}, "failure %d: %r" % (attempt, reply))
        reply = report(server, service, ip)
        check(reply["blocked"] and 3599 <= reply["retry_after"] <= 3600, "fifth failure: %r" % reply)

        status, headers, body = gate(server, ip)
        check_problem(status, headers, body, 429)
        check(1 <= int(headers["retry-after"]) <= 3600, "Retry-After %r" % headers.get("retry-after"))
        status, _, _ = gate(server, "203.0.113.21")
        check(status == 204, "another address: %d" % status)
        # The username is blocked from any address too.
        check(report(server, service, "198.51.100.1")["blocked"], "username block from another address")

        status, _, listed = server.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        check(status == 200, "list: %d %r" % (status, listed))
        keys = {b["key"]: b for b in listed["blocks"]}
        check(ip in keys and keys[ip]["kind"] == "ip" and keys[ip]["rule"] == "ip", "blocks: %r" % listed)
        users = [b for b in listed["blocks"] if b["kind"] == "username"]
        check(len(users) == 1 and users[0]["key"].startswith("user:") and len(users[0]["key"]) == 37,
              "username block: %r" % listed)
        check(keys[ip]["until"] > keys[ip]["created_at"], "times: %r" % keys[ip])
        before_restart = listed["blocks"]
    except BaseException:
        server.cleanup()
        raise
    first = server
    first.stop()  # SIGTERM; its temp dir (holding data_dir) is removed at the end

    server = Server(ARGS.callsignd, CONFIG, data_dir=data_dir)
    try:
        status, headers, _ = gate(server, ip)
        check(status == 429 and int(headers["retry-after"]) >= 1, "after restart: %d" % status)
        status, _, listed = server.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        check([b["key"] for b in listed["blocks"]] == [b["key"] for b in before_restart],
              "blocks after restart: %r vs %r" % (listed, before_restart))

        status, _, lifted = server.json("DELETE", "/v1/admin/blocks/" + ip, headers=bearer(admin))
        check(status == 200 and lifted["lifted"]["key"] == ip, "lift: %d %r" % (status, lifted))
        status, _, _ = gate(server, ip)
        check(status == 204, "gate after lift: %d" % status)
        status, headers, body = server.request("DELETE", "/v1/admin/blocks/" + ip, headers=bearer(admin))
        check_problem(status, headers, body, 404)

        entries = no_leaks(server, admin)
        actions = [e["action"] for e in entries]
        check(actions.count("login.result") == 9, "login.result entries: %r" % actions)
        check(actions.count("login.block") == 2 and actions.count("login.unblock") == 1, "actions: %r" % actions)
        block = next(e for e in entries if e["action"] == "login.block" and e["details"]["key"] == ip)
        check(block["actor_type"] == "service" and block["actor_id"] == "login-frontend", "actor: %r" % block)
        result = next(e for e in entries if e["action"] == "login.result")
        check(result["details"]["user_key"].startswith("user:") and result["details"]["ip"] == ip,
              "login.result details: %r" % result)
        unblock = next(e for e in entries if e["action"] == "login.unblock")
        check(unblock["actor_type"] == "admin" and unblock["details"]["key"] == ip, "unblock: %r" % unblock)
    finally:
        server.cleanup()
        first.cleanup()


def test_ipv6_grouping_and_bare_address_lift():
    server = Server(ARGS.callsignd, CONFIG)
    try:
        service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops")
        for i in range(1, 6):
            report(server, service, "2001:db8:7:8::%x" % i, username="user%d" % i)
        status, _, _ = gate(server, "2001:db8:7:8:ffff::1")
        check(status == 429, "same /64: %d" % status)
        status, _, _ = gate(server, "2001:db8:7:9::1")
        check(status == 204, "another /64: %d" % status)
        status, _, listed = server.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        check([b["key"] for b in listed["blocks"]] == ["2001:db8:7:8::/64"], "blocks: %r" % listed)
        # A bare address in the /64 names the block; so does the CIDR, percent-encoded.
        status, _, lifted = server.json("DELETE", "/v1/admin/blocks/2001:db8:7:8::abcd", headers=bearer(admin))
        check(status == 200 and lifted["lifted"]["key"] == "2001:db8:7:8::/64", "lift: %d %r" % (status, lifted))
        status, _, _ = gate(server, "2001:db8:7:8:ffff::1")
        check(status == 204, "after lift: %d" % status)
        for i in range(1, 6):
            report(server, service, "2001:db8:7:8::%x" % i, username="again%d" % i)
        path = "/v1/admin/blocks/" + urllib.parse.quote("2001:db8:7:8::/64", safe="")
        status, _, lifted = server.json("DELETE", path, headers=bearer(admin))
        check(status == 200, "lift by CIDR: %d %r" % (status, lifted))
    finally:
        server.cleanup()


def test_shadow_rule_counts_but_never_blocks():
    config = CONFIG + """
[[login.rules]]
name = "ip-watch"
key = "ip"
limit = 2
window_seconds = 60
block_seconds = 600
shadow = true
"""
    server = Server(ARGS.callsignd, config)
    try:
        service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops")
        for _ in range(6):
            check(not report(server, service, "192.0.2.77")["blocked"], "a shadow rule blocked")
        status, _, _ = gate(server, "192.0.2.77")
        check(status == 204, "gate with shadow rule only: %d" % status)
        status, _, listed = server.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        check(listed == {"blocks": [], "total": 0, "truncated": False}, "blocks: %r" % listed)
        status, _, metrics = server.request("GET", "/metrics")
        check(b"callsign_login_shadow_trips_total 5" in metrics, "metrics: %r" % metrics[-600:])
        trips = [r for r in server.log_records() if r.get("msg", r.get("message")) == "login shadow rule tripped"]
        check(len(trips) == 5, "shadow log lines: %d" % len(trips))
        entries = no_leaks(server, admin)
        shadowed = [e for e in entries if e["action"] == "login.result" and "shadow_trips" in e["details"]]
        check(len(shadowed) == 5 and shadowed[0]["details"]["shadow_trips"] == "ip-watch 192.0.2.77",
              "audit: %r" % shadowed[:1])
    finally:
        server.cleanup()


def test_bad_requests_are_problems_without_echo():
    server = Server(ARGS.callsignd, CONFIG)
    try:
        service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")
        for body, field in ((({"ip": "300.1.2.3", "username": USERNAME, "success": False}), "'ip'"),
                            (({"ip": "1.2.3.4:80", "username": USERNAME, "success": False}), "'ip'"),
                            (({"ip": "1.2.3.4", "username": "   ", "success": False}), "'username'"),
                            (({"ip": "1.2.3.4", "username": USERNAME}), "'success'"),
                            (({"ip": "1.2.3.4", "username": USERNAME, "success": False, "password": PASSWORD}),
                             "password")):
            status, headers, raw = server.request("POST", "/v1/login/result", json.dumps(body), json_headers(service))
            check_problem(status, headers, raw, 400, detail_contains=field)
            check(b"allory" not in raw.lower() and PASSWORD.encode() not in raw, "echo in %r" % raw)
        # A trusted proxy sending garbage gets a 400 naming the header.
        status, headers, raw = server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": "nonsense"})
        check_problem(status, headers, raw, 400, detail_contains="X-Forwarded-For")
    finally:
        server.cleanup()


def test_untrusted_peer_headers_are_ignored():
    server = Server(ARGS.callsignd, "")  # no trusted proxies: the peer (127.0.0.1) is the client
    try:
        service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")
        for i in range(5):
            report(server, service, "127.0.0.1", username="someone%d" % i)
        status, _, _ = gate(server, "203.0.113.99")  # spoofed header: ignored
        check(status == 429, "spoofed X-Forwarded-For must not escape the block: %d" % status)
    finally:
        server.cleanup()


USERNAME_RULE = CONFIG + '[[login.rules]]\nname = "user"\nkey = "username"\nlimit = 3\nwindow_seconds = 600\n' \
    'block_seconds = 3600\n'


def test_key_rotation_keeps_username_blocks_and_counts():
    server = Server(ARGS.callsignd, USERNAME_RULE)
    data_dir = server.data_dir
    restarted = []
    try:
        service = mint_token(ARGS.callsign, data_dir, "service", "login-frontend")
        admin = mint_token(ARGS.callsign, data_dir, "admin", "ops")
        for ip in ("203.0.113.30", "203.0.113.31", "203.0.113.32"):
            report(server, service, ip)  # the third blocks USERNAME
        check(report(server, service, "203.0.113.33", username="counted-twice")["blocked"] is False, "one failure")
        status, _, listed = server.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        old_keys = [b["key"] for b in listed["blocks"] if b["kind"] == "username"]
        check(status == 200 and len(old_keys) == 1, "blocks before the rotation: %r" % listed)
        server.stop()

        out = cli(ARGS.callsign, "keys", "rotate", "--data-dir", data_dir)
        check(out.returncode == 0 and "rotated" in out.stdout, "keys rotate: %s %s" % (out.stdout, out.stderr))

        again = Server(ARGS.callsignd, USERNAME_RULE, data_dir=data_dir)
        restarted.append(again)
        # The block set under the old key still holds, from any address, until it ends.
        reply = report(again, service, "198.51.100.40")
        check(reply["blocked"] and 3500 <= reply["retry_after"] <= 3600, "after rotation: %r" % reply)
        status, _, listed = again.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        check([b["key"] for b in listed["blocks"] if b["kind"] == "username"] == old_keys,
              "no second block under the new key: %r" % listed)
        # A username with one failure before the rotation is blocked by its third in all.
        check(report(again, service, "203.0.113.34", username="counted-twice")["blocked"] is False, "second failure")
        reply = report(again, service, "203.0.113.35", username="counted-twice")
        check(reply["blocked"], "third failure across the rotation: %r" % reply)
        status, _, listed = again.json("GET", "/v1/admin/blocks", headers=bearer(admin))
        new_keys = [b["key"] for b in listed["blocks"] if b["kind"] == "username" and b["key"] not in old_keys]
        check(len(new_keys) == 1, "the new block is under the new key: %r" % listed)
        # Lifting the old key's block ends it.
        status, _, lifted = again.json("DELETE", "/v1/admin/blocks/" + old_keys[0], headers=bearer(admin))
        check(status == 200, "lift: %d %r" % (status, lifted))
        check(not report(again, service, "198.51.100.41", success=True)["blocked"], "lifted across the rotation")
        no_leaks(again, admin)
    finally:
        for node in restarted:
            node.cleanup()
        server.cleanup()


CASES = [
    ("five_failures_block_and_restart_keeps_it", test_five_failures_block_and_restart_keeps_it),
    ("ipv6_grouping_and_bare_address_lift", test_ipv6_grouping_and_bare_address_lift),
    ("shadow_rule_counts_but_never_blocks", test_shadow_rule_counts_but_never_blocks),
    ("bad_requests_are_problems_without_echo", test_bad_requests_are_problems_without_echo),
    ("untrusted_peer_headers_are_ignored", test_untrusted_peer_headers_are_ignored),
    ("key_rotation_keeps_username_blocks_and_counts", test_key_rotation_keeps_username_blocks_and_counts),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
