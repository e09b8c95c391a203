"""Integration: a username's failed logins survive `callsign keys rotate` when its limit lives only
in the rule file ([[rate_limit]], docs/rules.md; no [[login.rules]] in the config). Two failures
before the rotation, SIGTERM (exit 0), `callsign keys rotate`, a restart: the fourth failure in
all blocks the username, and for another username the rule reading rate.login_failures.username
sees the failures under the previous key plus the new ones (docs/login-limits.md, "Key rotation")."""
import atexit
import json
import os
import shutil
import sys
import tempfile
import time

from harness import Server, audit_entries, bearer, check, cli, json_headers, mint_token, parse_args, run_cases

ARGS, _ = parse_args()
USERNAME = "  Rotation.Victim@Example.ORG "  # distinctive, so any leak is easy to find
NORMALIZED = "rotation.victim@example.org"
OTHER = "second.victim@example.org"
LIMIT = 4
# A day's window and block: longer than the hour of the config's default [[login.rules]], which
# is all the rotation horizon covered before it took the rule file's limits into account.
RULES = '''
[[rule]]
id = "third-failure"
expression = "rate.login_failures.username ge 3"
action = "challenge"

[[rate_limit]]
id = "user-fails"
expression = "not login.success"
characteristics = ["login.username"]
limit = %d
period = 86400
mitigation_timeout = 86400
''' % LIMIT
# Version 2's recorded creation, moved back by this much after `keys rotate`: the rotation then
# lies two hours back, past the default rules' hour but inside the rule file's day. The failures
# reported "before" it stand for those a node still on version 1 records during a rolling
# rotation (docs/cluster.md), which count the same way.
BACKDATE_SECONDS = 7200
WORK = tempfile.mkdtemp(prefix="callsign-rotation-rules-")
atexit.register(shutil.rmtree, WORK, True)


def report(server, token, ip, username=USERNAME):
    status, _, body = server.json("POST", "/v1/login/result",
                                  json.dumps({"ip": ip, "username": username, "success": False}),
                                  json_headers(token))
    check(status == 200, "login result for %s: %d %r" % (ip, status, body))
    return body


def decision(server, token, username=USERNAME):
    status, _, body = server.json("POST", "/v1/login/check", json.dumps({"ip": "198.51.100.77", "username": username}),
                                  json_headers(token))
    check(status == 200, "login/check: %d %r" % (status, body))
    return body["decision"]


def backdate_current_key(data_dir, seconds):
    """Moves the newest ring line's created_at back by `seconds`, keeping the file's mode."""
    path = os.path.join(data_dir, "master.key")
    with open(path) as f:
        lines = f.read().splitlines()
    rows = [(i, l.split()) for i, l in enumerate(lines) if l.strip() and not l.startswith("#")]
    index, newest = max(rows, key=lambda r: int(r[1][0]))
    check(len(newest) == 3 and int(newest[2]) >= int(time.time()) - 60,
          "keys rotate records version %s's creation time: %r" % (newest[0], newest[:1] + newest[2:]))
    newest[2] = str(int(newest[2]) - seconds)
    lines[index] = " ".join(newest)
    with open(path, "r+") as f:
        f.seek(0)
        f.write("\n".join(lines) + "\n")
        f.truncate()


def test_username_failures_survive_a_rotation_under_a_rule_file_limit():
    data_dir = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(data_dir, "rules.toml"), "w") as f:
        f.write(RULES)
    server = Server(ARGS.callsignd, "", data_dir=data_dir)
    restarted = []
    try:
        service = mint_token(ARGS.callsign, data_dir, "service", "login-frontend")
        admin = mint_token(ARGS.callsign, data_dir, "admin", "ops")
        # Two failures each for two usernames: one to be blocked, one whose count a rule reads.
        for username in (USERNAME, OTHER):
            for ip in ("203.0.113.50", "203.0.113.51"):
                check(report(server, service, ip, username) == {"blocked": False, "retry_after": 0},
                      "failure before the rotation")
        check(decision(server, service)["action"] == "allow", "two failures: under the rule's 3")
        code = server.stop()
        check(code == 0 and server.exit_problem() == "", "SIGTERM before the rotation: %s" % server.exit_problem())

        out = cli(ARGS.callsign, "keys", "rotate", "--data-dir", data_dir)
        check(out.returncode == 0 and "rotated" in out.stdout, "keys rotate: %s %s" % (out.stdout, out.stderr))
        backdate_current_key(data_dir, BACKDATE_SECONDS)

        again = Server(ARGS.callsignd, "", data_dir=data_dir)
        restarted.append(again)
        # Two more under the new key: the fourth in all reaches the limit, and blocks for the day.
        check(report(again, service, "203.0.113.52") == {"blocked": False, "retry_after": 0}, "third failure")
        reply = report(again, service, "203.0.113.53")
        check(reply["blocked"] and 86300 <= reply["retry_after"] <= 86400,
              "the fourth failure in all (two before the rotation) must block: %r" % reply)
        d = decision(again, service)
        check(d["action"] == "block" and d.get("rule_id") == "user-fails", "blocked username: %r" % d)
        # One more for the other username: the rule reads the previous key's 2 plus the new key's 1.
        check(report(again, service, "203.0.113.54", OTHER) == {"blocked": False, "retry_after": 0}, "third")
        d = decision(again, service, OTHER)
        check(d == {"action": "challenge", "rule_id": "third-failure"},
              "rate.login_failures.username must add the previous key's 2 to the new key's 1: %r" % d)
        check(decision(again, service, "someone-else")["action"] == "allow", "another username reads 0")

        text = json.dumps(audit_entries(again, admin)).lower() + "\n".join(server.lines + again.lines).lower()
        for name in (NORMALIZED, "rotation.victim", OTHER):
            check(name not in text, "a username leaked into a log or audit")
        code = again.stop()
        check(code == 0 and again.exit_problem() == "", "SIGTERM after the rotation: %s" % again.exit_problem())
    finally:
        for node in restarted:
            node.cleanup()
        server.cleanup()


CASES = [
    ("username_failures_survive_a_rotation_under_a_rule_file_limit",
     test_username_failures_survive_a_rotation_under_a_rule_file_limit),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
