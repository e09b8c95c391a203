"""Integration: `callsign keys rotate` against the real callsignd and CLI. It refuses while the
server holds the database; offline it adds version 2 and re-seals the authenticator secret;
afterwards an enrolled authenticator still verifies (oathtool with the original secret), phone
tokens derive from version 2, version 1 tokens verify during [keys] rotation_overlap_seconds and
not after it, and `callsign audit verify` passes across the rotation."""
import json
import os
import stat
import sys
import time

from harness import (bearer, check, cli, json_headers, Node as HarnessNode, oathtool, parse_args, run_cases,
                     wrong_code)

ARGS, _ = parse_args()

CONFIG = """
[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000

[keys]
rotation_overlap_seconds = %d
"""


def start_node(data_dir, overlap):
    """One callsignd on a given data dir, with the rotation overlap in seconds."""
    return HarnessNode(ARGS.callsignd, ARGS.callsign, CONFIG % overlap, data_dir)


def cli_token(data_dir, user_id, version, at=None):
    extra = [] if at is None else ["--time", str(at)]
    out = cli(ARGS.callsign, "phone-token", "--data-dir", data_dir, "--user", user_id, "--key-version", str(version),
              *extra)
    check(out.returncode == 0, "phone-token --key-version %d: %s" % (version, out.stderr))
    return out.stdout.strip()


def audit_verify(data_dir):
    out = cli(ARGS.callsign, "audit", "verify", "--data-dir", data_dir)
    check(out.returncode == 0 and "intact" in out.stdout, "audit verify: %s %s" % (out.stdout, out.stderr))
    return out.stdout


def ring_rows(data_dir):
    with open(os.path.join(data_dir, "master.key")) as f:
        return [line.split() for line in f.read().splitlines() if line.strip() and not line.startswith("#")]


NODES = []


def start(data_dir, overlap):
    node = start_node(data_dir, overlap)
    NODES.append(node)
    return node


def test_rotation_across_restarts():
    try:
        rotation_across_restarts()
    finally:
        # SIGTERM and exit 0 required of each (a kill if the case failed); the first node's temp
        # dir holds the data dir: removed last.
        for node in reversed(NODES):
            node.server.cleanup()


def rotation_across_restarts():
    first = start(None, 3600)
    data_dir = first.data_dir
    for user in ("rk-auth", "rk-old", "rk-new", "rk-late"):
        first.put_user(user)
    customer = bearer(first.token("customer", "rk-auth"))
    status, _, body = first.server.json("POST", "/v1/me/authenticator", headers=customer)
    check(status == 201, "enroll: %d %r" % (status, body))
    secret = body["secret"]
    status, _, body = first.server.json("POST", "/v1/me/authenticator/confirm",
                                        json.dumps({"code": oathtool(secret, int(time.time()))}),
                                        json_headers(first.token("customer", "rk-auth")))
    check(status == 200 and body["state"] == "active", "confirm: %d %r" % (status, body))
    check(first.verify("rk-old", wrong_code(first.phone_token("rk-old")["token"]))["valid"] is False, "wrong code")

    # While callsignd holds the database the CLI refuses, and changes nothing.
    before = open(os.path.join(data_dir, "master.key")).read()
    out = cli(ARGS.callsign, "keys", "rotate", "--data-dir", data_dir)
    check(out.returncode == 1 and "stop callsignd" in out.stderr, "rotate while running: %d %r" %
          (out.returncode, out.stderr))
    check(open(os.path.join(data_dir, "master.key")).read() == before, "the key file changed while refused")
    check(first.server.stop() == 0, "callsignd did not stop cleanly")

    rotated_before = int(time.time())
    out = cli(ARGS.callsign, "keys", "rotate", "--data-dir", data_dir)
    check(out.returncode == 0, "keys rotate: %d %s" % (out.returncode, out.stderr))
    check("version 1 -> 2" in out.stdout and "1 active" in out.stdout, "rotate output %r" % out.stdout)
    rows = ring_rows(data_dir)
    check([r[0] for r in rows] == ["1", "2"], "ring versions %r" % [r[0] for r in rows])
    check(len(rows[1]) == 3 and rotated_before <= int(rows[1][2]) <= int(time.time()), "v2 creation time %r" % rows[1][2:])
    check(stat.S_IMODE(os.stat(os.path.join(data_dir, "master.key")).st_mode) == 0o600, "master.key mode")
    audit_verify(data_dir)  # entries before the rotation under version 1 checkpoints, after it under version 2

    second = start(data_dir, 3600)
    # Phone tokens now derive from version 2 ...
    shown = second.phone_token("rk-new")
    new_token = shown["token"]
    at = shown["step"] * shown["period"]  # the same step, even if a boundary passes meanwhile
    check(new_token == cli_token(data_dir, "rk-new", 2, at), "the dashboard token is not version 2's")
    check(new_token != cli_token(data_dir, "rk-new", 1, at), "version 1 gives the same token")
    check(second.verify("rk-new", new_token)["valid"] is True, "a version 2 token was refused")
    # ... and version 1's still verify during the overlap.
    result = second.verify("rk-old", cli_token(data_dir, "rk-old", 1))
    check(result == {"valid": True, "method": "phone_token", "user": "rk-old"}, "old token in overlap: %r" % result)
    # The authenticator enrolled before the rotation, re-sealed under version 2, still works
    # with the secret the customer's app has (one step ahead: the confirm used this step).
    result = second.verify("rk-auth", oathtool(secret, int(time.time()) + 30))
    check(result == {"valid": True, "method": "authenticator", "user": "rk-auth"}, "authenticator: %r" % result)

    entries = second.audit()
    rotate = [e for e in entries if e["action"] == "keys.rotate"]
    check(len(rotate) == 1, "keys.rotate entries: %r" % rotate)
    check(rotate[0]["actor_type"] == "admin" and rotate[0]["actor_id"] == "cli", "actor %r" % rotate[0])
    check(rotate[0]["details"] == {"from_version": "1", "to_version": "2", "resealed_active": "1",
                                   "resealed_pending": "0"}, "details %r" % rotate[0]["details"])
    old = [e for e in entries if e["subject"] == "rk-old" and e["outcome"] == "valid"]
    check(old and old[-1]["details"].get("key_version") == "1", "overlap use not audited: %r" % old)
    audit_verify(data_dir)
    check(second.server.stop() == 0, "callsignd did not stop cleanly")

    # A server whose overlap (1 s) has ended refuses version 1 tokens and accepts version 2's.
    created = int(ring_rows(data_dir)[1][2])
    while time.time() < created + 2:
        time.sleep(0.2)
    third = start(data_dir, 1)
    result = third.verify("rk-late", cli_token(data_dir, "rk-late", 1))
    check(result["valid"] is False, "a version 1 token verified after the overlap: %r" % result)
    check(third.verify("rk-late", cli_token(data_dir, "rk-late", 2))["valid"] is True, "version 2 refused")
    audit_verify(data_dir)
    check(third.server.stop() == 0, "callsignd did not stop cleanly")


def test_rotate_refuses_without_a_data_dir():
    out = cli(ARGS.callsign, "keys", "rotate")
    check(out.returncode == 2 and "--data-dir" in out.stderr, "no data dir: %d %r" % (out.returncode, out.stderr))
    out = cli(ARGS.callsign, "keys", "rotate", "--data-dir", "/nonexistent/callsign")
    check(out.returncode == 1 and "master.key" in out.stderr, "missing dir: %d %r" % (out.returncode, out.stderr))


if __name__ == "__main__":
    sys.exit(run_cases([
        ("rotation across restarts", test_rotation_across_restarts),
        ("rotate refuses without a data dir", test_rotate_refuses_without_a_data_dir),
    ]))
