"""Integration: the login rules (issue 19, docs/rules.md) in the real callsignd.

The rule file loads at start and decides POST /v1/login/check; PUT /v1/admin/rules validates,
writes and swaps a new file, audited with its diff; a bad file answers 422 naming rule, line and
column and leaves the old one serving; shadow rules count without deciding; the test route
evaluates drafts without installing them; SIGHUP and POST /reload read the file again; a file
that does not compile keeps callsignd from starting; [[rate_limit]] rules count the outcomes
their expression matches, and refuse to sit beside [[login.rules]]."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import (Server, audit_entries, bearer, check, check_problem, json_headers, mint_token, parse_args,
                     run_cases)

ARGS, _ = parse_args()

SEED = '''
[[rule]]
id = "seed"
description = "the seed's rule, with $open_proxies and bot.score"
expression = 'http.request.uri.path contains "/login" and (not ip.src in $open_proxies and bot.score < 30)'
action = "block"

[[rule]]
id = "office-allow"
expression = "ip.src in $office"
action = "allow"

[[rule]]
id = "exposed"
expression = "login.exposed_password or http.request.headers[\\"x-risk\\"] eq \\"high\\""
action = "challenge"

[[rule]]
id = "watch-admin"
expression = 'lower(http.user_agent) contains "curl"'
action = "log"

[lists]
office = ["10.1.0.0/16"]
'''


def write_rules(server, text):
    path = os.path.join(server.data_dir, "rules.toml")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


WORK = tempfile.mkdtemp(prefix="callsign-rules-")
atexit.register(shutil.rmtree, WORK, True)


def start(text, config=""):
    """A server whose data dir holds `text` as rules.toml before it starts."""
    data_dir = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(data_dir, "rules.toml"), "w") as f:
        f.write(text)
    return Server(ARGS.callsignd, config, data_dir=data_dir)


class Front:
    def __init__(self, server):
        self.server = server
        self.admin = mint_token(ARGS.callsign, server.data_dir, "admin", "rules-admin")
        self.service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")

    def check_login(self, **body):
        status, _, doc = self.server.json("POST", "/v1/login/check", json.dumps(body), json_headers(self.service))
        check(status == 200, "login/check: %d %r" % (status, doc))
        return doc

    def decision(self, **body):
        return self.check_login(**body)["decision"]

    def put_rules(self, text):
        return self.server.request("PUT", "/v1/admin/rules", text,
                                   bearer(self.admin, {"Content-Type": "application/toml"}))

    def rules(self):
        status, _, doc = self.server.json("GET", "/v1/admin/rules", headers=bearer(self.admin))
        check(status == 200, "GET rules: %d %r" % (status, doc))
        return doc

    def metric(self, name):
        status, _, raw = self.server.request("GET", "/metrics")
        check(status == 200, "metrics: %d" % status)
        for line in raw.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None


def test_the_file_decides_login_check():
    server = start(SEED)
    try:
        front = Front(server)
        # The seed's rule: a /login attempt with a low bot score from outside the proxy list.
        d = front.decision(ip="198.51.100.4", path="/login", bot_score=12)
        check(d == {"action": "block", "rule_id": "seed"}, "low score on /login: %r" % d)
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=80)["action"] == "allow", "high score")
        check(front.decision(ip="198.51.100.4", path="/account", bot_score=12)["action"] == "allow", "other path")
        # No score: every comparison on bot.score is false, so the seed's rule does not match.
        check(front.decision(ip="198.51.100.4", path="/login")["action"] == "allow", "absent bot score")
        # An allow rule ends the evaluation before the challenge below it.
        d = front.decision(ip="10.1.2.3", password="x", headers={"X-Risk": "high"})
        check(d == {"action": "allow", "rule_id": "office-allow"}, "office address: %r" % d)
        d = front.decision(ip="198.51.100.9", headers={"X-Risk": "high"})
        check(d == {"action": "challenge", "rule_id": "exposed"}, "risk header: %r" % d)
        # A log rule is reported and logged, and decides nothing.
        doc = front.check_login(ip="198.51.100.9", user_agent="curl/8.0")
        check(doc["decision"]["action"] == "allow" and doc["logged_rules"] == ["watch-admin"], "log rule: %r" % doc)
        # The line is written before the reply; the test's reader thread may not have read it yet.
        deadline = time.time() + 10
        while time.time() < deadline and not any(r.get("msg") == "login rule matched" and
                                                 r.get("rule") == "watch-admin" for r in server.log_records()):
            time.sleep(0.02)
        check(any(r.get("msg") == "login rule matched" and r.get("rule") == "watch-admin"
                  for r in server.log_records()), "the log rule left no log line")
        # Hit counters, per rule, in /metrics.
        check(front.metric('callsign_rule_hits_total{rule="seed",mode="enforce"}') == 1, "seed hits")
        check(front.metric('callsign_rule_hits_total{rule="exposed",mode="enforce"}') == 1, "exposed hits")
        check(front.metric("callsign_login_checks_challenged_total") == 1, "challenged count")
        check(front.metric("callsign_login_checks_blocked_total") == 1, "blocked count")
        doc = front.rules()
        check(doc["version"] == 1 and [r["id"] for r in doc["rules"]] == ["seed", "office-allow", "exposed",
                                                                         "watch-admin"], "GET: %r" % doc)
        check(doc["rules"][0]["hits"] == 1 and doc["rules"][0]["action"] == "block", "GET hits: %r" % doc["rules"])
        # The gate: a bot score header that is not 1..99 is a 400 naming the header.
        status, headers, raw = server.request("GET", "/v1/login/gate", None,
                                              {"X-Bot-Score": "abc", "X-Original-URI": "/login"})
        check_problem(status, headers, raw, 400, "x-bot-score")
        status, _, _ = server.request("GET", "/v1/login/gate", None, {"X-Bot-Score": "12", "X-Original-URI": "/login"})
        check(status == 403, "the gate with a low score on /login: %d" % status)
        # Bad request members are 400s naming the member, never a silent default.
        status, headers, raw = server.request("POST", "/v1/login/check",
                                              json.dumps({"ip": "198.51.100.4", "bot_score": 300}),
                                              json_headers(front.service))
        check_problem(status, headers, raw, 400, "bot_score")
        status, headers, raw = server.request("POST", "/v1/login/check",
                                              json.dumps({"ip": "198.51.100.4", "headers": {"A": "1", "a": "2"}}),
                                              json_headers(front.service))
        check_problem(status, headers, raw, 400, "headers")
    finally:
        server.cleanup()


def test_replace_validates_swaps_and_audits():
    server = start(SEED)
    try:
        front = Front(server)
        before = front.rules()
        # A syntax error: 422 naming the rule, its line and column; the old rules keep serving.
        bad = SEED.replace('bot.score < 30)', 'bot.score < )')
        status, headers, raw = front.put_rules(bad)
        problem = check_problem(status, headers, raw, 422)
        check(problem["rule"] == "seed" and problem["line"] == 5 and problem["expected"], "problem: %r" % problem)
        column = bad.splitlines()[4].index("< )") + 3  # 1-based column of the ')'
        check(problem["column"] == column, "column %r, expected %d" % (problem["column"], column))
        check(front.rules()["sha256"] == before["sha256"], "a refused file replaced the rules")
        with open(os.path.join(server.data_dir, "rules.toml")) as f:
            check(f.read() == SEED, "a refused file reached the disk")
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=12)["action"] == "block", "old rules")
        # A good one: swapped, written, audited with the ids and the diff.
        good = SEED.replace('bot.score < 30', 'bot.score < 50').replace('id = "watch-admin"', 'id = "watch-cli"')
        status, _, raw = front.put_rules(good)
        check(status == 200, "PUT: %d %r" % (status, raw))
        doc = json.loads(raw)
        check(doc["changed"] and doc["version"] == 2 and doc["rules"] == 4, "PUT reply %r" % doc)
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=40)["action"] == "block", "new rules")
        with open(os.path.join(server.data_dir, "rules.toml")) as f:
            check(f.read() == good, "the file on disk is not the new text")
        # The same text again changes nothing; the media type's case and parameters do not matter.
        status, _, raw = server.request("PUT", "/v1/admin/rules", good,
                                        bearer(front.admin, {"Content-Type": "Application/TOML; charset=utf-8"}))
        check(status == 200 and not json.loads(raw)["changed"], "same text: %d %r" % (status, raw))
        entries = [e for e in audit_entries(server, front.admin) if e["action"] == "rules.replace"]
        check([e["outcome"] for e in entries] == ["rejected", "installed", "unchanged"],
              "audit outcomes %r" % [e["outcome"] for e in entries])
        installed = entries[1]["details"]
        check(installed["added"] == "watch-cli" and installed["removed"] == "watch-admin" and
              installed["changed"] == "seed", "audit ids %r" % installed)
        check("-5 " in installed["diff_1"] and "+5 " in installed["diff_1"] and "bot.score < 50" in installed["diff_1"],
              "audit diff %r" % installed["diff_1"])
        check("line 5" in entries[0]["details"]["error"], "refusal audit %r" % entries[0]["details"])
        # Wrong media type, wrong role.
        status, headers, raw = server.request("PUT", "/v1/admin/rules", good,
                                              bearer(front.admin, {"Content-Type": "application/json"}))
        check_problem(status, headers, raw, 415)
        status, headers, raw = server.request("PUT", "/v1/admin/rules", good,
                                              bearer(front.service, {"Content-Type": "application/toml"}))
        check_problem(status, headers, raw, 403)
    finally:
        server.cleanup()
    # A restart loads what was installed.
    again = Server(ARGS.callsignd, "", data_dir=server.data_dir)
    try:
        front = Front(again)
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=40)["action"] == "block",
              "the installed file did not survive a restart")
    finally:
        again.cleanup()


def test_shadow_counts_without_deciding():
    server = start(SEED)
    try:
        front = Front(server)
        status, _, raw = server.request("POST", "/v1/admin/rules/seed/shadow", json.dumps({"shadow": True}),
                                        json_headers(front.admin))
        check(status == 200 and json.loads(raw)["changed"], "shadow on: %d %r" % (status, raw))
        for _ in range(3):
            doc = front.check_login(ip="198.51.100.4", path="/login", bot_score=12)
            check(doc["decision"]["action"] == "allow" and doc["shadow_rules"] == ["seed"], "shadow: %r" % doc)
        check(front.metric('callsign_rule_hits_total{rule="seed",mode="shadow"}') == 3, "shadow hits")
        check(front.metric('callsign_rule_hits_total{rule="seed",mode="enforce"}') == 0, "enforce hits")
        with open(os.path.join(server.data_dir, "rules.toml")) as f:
            text = f.read()
        check("shadow = true" in text and text.count("[[rule]]") == 4 and "the seed's rule" in text,
              "the file after the toggle: %r" % text)
        status, _, raw = server.request("POST", "/v1/admin/rules/seed/shadow", json.dumps({"shadow": False}),
                                        json_headers(front.admin))
        check(status == 200, "shadow off: %d %r" % (status, raw))
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=12)["action"] == "block", "enforced again")
        status, headers, raw = server.request("POST", "/v1/admin/rules/nope/shadow", json.dumps({"shadow": True}),
                                              json_headers(front.admin))
        check_problem(status, headers, raw, 404)
    finally:
        server.cleanup()


def test_test_route_installs_nothing():
    server = start(SEED)
    try:
        front = Front(server)
        draft = '[[rule]]\nid = "all-posts"\nexpression = \'http.request.method eq "POST"\'\naction = "challenge"\n'
        sample = {"ip": "198.51.100.4", "method": "POST", "path": "/login", "bot_score": 12}
        status, _, doc = server.json("POST", "/v1/admin/rules/test", json.dumps({"rules": draft, "request": sample}),
                                     json_headers(front.admin))
        check(status == 200 and doc["decision"] == {"action": "challenge", "rule": "all-posts"}, "draft: %r" % doc)
        status, _, doc = server.json("POST", "/v1/admin/rules/test", json.dumps({"request": sample}),
                                     json_headers(front.admin))
        check(status == 200 and doc["decision"] == {"action": "block", "rule": "seed"}, "serving: %r" % doc)
        check(front.rules()["version"] == 1, "a test installed something")
        check(front.metric('callsign_rule_hits_total{rule="seed",mode="enforce"}') == 0, "a test counted hits")
        status, headers, raw = server.request("POST", "/v1/admin/rules/test",
                                              json.dumps({"rules": "[[rule]]\nid = \"x\"\nexpression = \"ip.src in\"\n"
                                                                   "action = \"block\"\n", "request": sample}),
                                              json_headers(front.admin))
        problem = check_problem(status, headers, raw, 422)
        check(problem["rule"] == "x" and problem["line"] == 3, "test problem: %r" % problem)
        # Like every other route, these take no query parameters: an unknown one is a 400.
        for path, body in (("/v1/admin/rules/test?bogus=1", {"request": sample}),
                           ("/v1/admin/rules/seed/shadow?bogus=1&bogus=2", {"shadow": True})):
            status, headers, raw = server.request("POST", path, json.dumps(body), json_headers(front.admin))
            check_problem(status, headers, raw, 400, "bogus")
        check(front.rules()["version"] == 1, "a refused shadow toggle changed the rules")
    finally:
        server.cleanup()


def test_reload_and_sighup_read_the_file():
    server = start(SEED)
    try:
        front = Front(server)
        write_rules(server, SEED.replace('action = "block"', 'action = "challenge"', 1))
        status, _, raw = server.request("POST", "/v1/admin/rules/reload", None, bearer(front.admin))
        check(status == 200 and json.loads(raw)["version"] == 2, "reload: %d %r" % (status, raw))
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=12)["action"] == "challenge", "reloaded")
        # A broken file on SIGHUP: logged and audited, the old rules keep serving.
        write_rules(server, SEED + "\n[[rule]]\nid = \"broken\"\n")
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline and not any(r.get("msg", "").startswith("rules reload failed")
                                                 for r in server.log_records()):
            time.sleep(0.05)
        check(any(r.get("msg", "").startswith("rules reload failed") for r in server.log_records()),
              "SIGHUP did not report the broken file")
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=12)["action"] == "challenge", "kept")
        write_rules(server, SEED)
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline and front.rules()["version"] != 3:
            time.sleep(0.05)
        check(front.decision(ip="198.51.100.4", path="/login", bot_score=12)["action"] == "block", "SIGHUP reload")
        reloads = [e for e in audit_entries(server, front.admin) if e["action"] == "rules.reload"]
        check([e["outcome"] for e in reloads] == ["installed", "rejected", "installed"],
              "reload audit %r" % [(e["outcome"], e["actor_id"]) for e in reloads])
    finally:
        server.cleanup()


def test_sighup_without_a_rule_file_is_no_rules_event():
    """A server that uses no rule file reloads its lists on SIGHUP and says nothing about rules."""
    server = Server(ARGS.callsignd, "")
    try:
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "rules-admin")
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while time.time() < deadline and not any(e["action"] == "lists.reload" and e["actor_id"] == "sighup"
                                                 for e in audit_entries(server, admin)):
            time.sleep(0.05)
        check(any(e["action"] == "lists.reload" for e in audit_entries(server, admin)), "SIGHUP did not reload lists")
        # The rules task runs beside the lists' on the worker pool: give it a second, in which
        # nothing about rules may appear (an empty wait, bounded on purpose).
        time.sleep(1.0)
        check(not any(e["action"].startswith("rules.") for e in audit_entries(server, admin)),
              "a SIGHUP without a rule file audited a rules event")
        check(not any(r.get("msg", "").startswith("rules reload") for r in server.log_records()),
              "a SIGHUP without a rule file logged a rules reload")
    finally:
        server.cleanup()


def test_a_bad_file_stops_the_start():
    bad = SEED.replace("$office", "$nowhere")
    work = tempfile.mkdtemp(prefix="callsign-rules-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    with open(os.path.join(data_dir, "rules.toml"), "w") as f:
        f.write(bad)
    try:
        ran = subprocess.run([ARGS.callsignd, "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    check(ran.returncode == 1, "callsignd started with a bad rule file (%d)" % ran.returncode)
    check("office-allow" in ran.stdout and "line" in ran.stdout and "nowhere" in ran.stdout,
          "the start error does not name rule, line and list: %r" % ran.stdout[-600:])


RATE = '''
[[rate_limit]]
id = "forbidden-pages"
expression = "http.response.code eq 403"
characteristics = ["ip.src"]
limit = 3
period = 60
mitigation_timeout = 600
'''


def test_rate_limit_rules_count_what_they_match():
    server = start(RATE)
    try:
        front = Front(server)

        def report(status, success=False):
            code, _, doc = server.json("POST", "/v1/login/result",
                                       json.dumps({"ip": "203.0.113.50", "username": "u1", "success": success,
                                                   "status": status}), json_headers(front.service))
            check(code == 200, "login/result: %d %r" % (code, doc))
            return doc

        # Failures with other statuses do not count under this rule (and no default rule runs).
        for _ in range(6):
            check(not report(401)["blocked"], "a 401 counted")
        for i in range(3):
            doc = report(403)
        check(doc["blocked"] and 590 <= doc["retry_after"] <= 600, "three 403s did not block: %r" % doc)
        d = front.decision(ip="203.0.113.50")
        check(d == {"action": "block", "rule_id": "forbidden-pages"}, "decision %r" % d)
        doc = front.rules()
        check(doc["rate_limits_from"] == "rule_file" and doc["rate_limits"][0]["characteristics"] == ["ip.src"],
              "GET rate limits %r" % doc["rate_limits"])
        status, headers, raw = server.request("POST", "/v1/login/result",
                                              json.dumps({"ip": "203.0.113.50", "username": "u1", "success": False,
                                                          "status": 99}), json_headers(front.service))
        check_problem(status, headers, raw, 400, "status")
    finally:
        server.cleanup()
    # Beside [[login.rules]] in the config, [[rate_limit]] refuses to load, pointing at the new form.
    config = '[[login.rules]]\nname = "ip"\nkey = "ip"\nlimit = 5\nwindow_seconds = 60\nblock_seconds = 60\n'
    probe = Server(ARGS.callsignd, config)
    try:
        front = Front(probe)
        status, headers, raw = front.put_rules(RATE)
        problem = check_problem(status, headers, raw, 422, "[[login.rules]]")
        check(problem["rule"] == "forbidden-pages", "problem %r" % problem)
        check(front.rules()["rate_limits_from"] == "config", "the config's limits stopped serving")
    finally:
        probe.cleanup()


if __name__ == "__main__":
    raise SystemExit(run_cases([(fn.__name__[5:], fn) for fn in [
        test_the_file_decides_login_check, test_replace_validates_swaps_and_audits,
        test_shadow_counts_without_deciding, test_test_route_installs_nothing, test_reload_and_sighup_read_the_file,
        test_sighup_without_a_rule_file_is_no_rules_event, test_a_bad_file_stops_the_start,
        test_rate_limit_rules_count_what_they_match]]))
