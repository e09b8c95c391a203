"""Integration: users, phone tokens, POST /v1/verify (single use, restart, race, throttling),
authenticator enrollment with oathtool codes, and the customer's own audit trail, all against
the real callsignd. Phone tokens use a 3-second period; tests that must stay inside one step
first wait until just after a step boundary (harness.wait_for_step_start)."""
import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

from harness import (Server, audit_count, audit_entries, bearer, check, check_problem, current_step,
                     json_headers, mint_token, parse_args, phone_token_at, run_cases, wait_for_step_start,
                     wrong_code)

ARGS, _ = parse_args()
PERIOD = 3
# Failure limits are high here so that replays in one test never throttle another; the
# throttling test runs its own server with small limits.
CONFIG = """
[phone_token]
period = %d

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000
""" % PERIOD


class Api:
    """One callsignd plus tokens for it."""

    def __init__(self, config=CONFIG, data_dir=None):
        self.server = Server(ARGS.callsignd, config, data_dir=data_dir)
        self.data_dir = self.server.data_dir
        self._tokens = {}

    def token(self, role, sub):
        if (role, sub) not in self._tokens:
            self._tokens[(role, sub)] = mint_token(ARGS.callsign, self.data_dir, role, sub)
        return self._tokens[(role, sub)]

    @property
    def admin(self):
        return self.token("admin", "ops-1")

    def put_user(self, user_id, email, phone_support=True, expect=None):
        status, _, body = self.server.json("PUT", "/v1/users/" + user_id,
                                           json.dumps({"email": email, "phone_support": phone_support}),
                                           json_headers(self.admin))
        check(status in ((200, 201) if expect is None else (expect,)), "PUT user %s: %d %r" % (user_id, status, body))
        return body

    def phone_token(self, user_id):
        status, _, body = self.server.json("GET", "/v1/me/phone-token", headers=bearer(self.token("customer", user_id)))
        check(status == 200, "phone-token for %s: %d %r" % (user_id, status, body))
        return body

    def verify(self, body, agent="agent-1"):
        """POST /v1/verify; returns (status, headers, raw body)."""
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.server.request("POST", "/v1/verify", payload, json_headers(self.token("agent", agent)))

    def verify_ok(self, body, agent="agent-1"):
        status, _, raw = self.verify(body, agent)
        check(status == 200, "verify %r: %d %r" % (body, status, raw))
        return json.loads(raw)

    def audit(self):
        return audit_entries(self.server, self.admin)

    def count(self):
        return audit_count(self.server, self.admin)

    def close(self):
        self.server.cleanup()


API = None  # the shared server of most cases, started in main()


def valid(user_id, method="phone_token"):
    return {"valid": True, "method": method, "user": user_id}


def invalid(user_id):
    return {"valid": False, "method": None, "user": user_id}


def entries_for(api, subject, action=None):
    return [e for e in api.audit() if e["subject"] == subject and (action is None or e["action"] == action)]


# ---------------------------------------------------------------------------------------------
# PUT /v1/users/{id} and GET /v1/users?email=

def test_put_user_creates_then_updates():
    api = API
    status, headers, body = api.server.json("PUT", "/v1/users/alice-1",
                                            json.dumps({"email": "  Alice.One@Example.COM ", "phone_support": True}),
                                            json_headers(api.admin))
    check(status == 201, "create: %d %r" % (status, body))
    check(headers.get("content-type") == "application/json", "content-type %r" % headers.get("content-type"))
    check(body["id"] == "alice-1" and body["email"] == "alice.one@example.com" and body["phone_support"] is True,
          "created user %r" % body)
    check(body["authenticator"] == "none", "no authenticator yet: %r" % body)
    check(isinstance(body["created_at"], int) and abs(body["created_at"] - time.time()) < 60, "created_at %r" % body)
    created_at = body["created_at"]
    status, _, body = api.server.json("PUT", "/v1/users/alice-1",
                                      json.dumps({"email": "alice.1@example.com", "phone_support": False}),
                                      json_headers(api.admin))
    check(status == 200, "update: %d %r" % (status, body))
    check(body["email"] == "alice.1@example.com" and body["phone_support"] is False, "updated user %r" % body)
    check(body["created_at"] == created_at and body["updated_at"] >= created_at, "timestamps %r" % body)
    trail = entries_for(api, "alice-1")
    check([e["action"] for e in trail] == ["user.create", "user.update"], "audit actions %r" % trail)
    for entry in trail:
        check(entry["actor_type"] == "admin" and entry["actor_id"] == "ops-1" and entry["outcome"] == "ok",
              "audit entry %r" % entry)
    # The old email no longer finds the user; the new one does.
    agent = bearer(api.token("agent", "agent-1"))
    status, _, _ = api.server.request("GET", "/v1/users?email=alice.one@example.com", headers=agent)
    check(status == 404, "old email still found: %d" % status)
    status, _, body = api.server.json("GET", "/v1/users?email=alice.1@example.com", headers=agent)
    check(status == 200 and body["id"] == "alice-1", "new email: %d %r" % (status, body))


def test_put_user_rejects_bad_input_and_writes_nothing():
    api = API
    api.put_user("carol-1", "carol@example.com")
    before = api.count()
    good = json.dumps({"email": "new-user@example.com", "phone_support": True})
    admin_json = json_headers(api.admin)
    cases = [
        # (path, body, headers, status, part of the detail)
        ("/v1/users/bad%20id", good, admin_json, 400, "user id"),
        ("/v1/users/" + "a" * 129, good, admin_json, 400, "user id"),
        ("/v1/users/semi;colon", good, admin_json, 400, "user id"),
        ("/v1/users/%C3%BC", good, admin_json, 400, "user id"),
        ("/v1/users/x-1", b"this is not json", admin_json, 400, "not valid JSON"),
        ("/v1/users/x-1", b'{"email": "x@example.com", "phone_support": true', admin_json, 400, "not valid JSON"),
        ("/v1/users/x-1", b"[1, 2]", admin_json, 400, "JSON object"),
        ("/v1/users/x-1", b"", admin_json, 400, "JSON object"),
        ("/v1/users/x-1", json.dumps({"phone_support": True}), admin_json, 400, "missing field 'email'"),
        ("/v1/users/x-1", json.dumps({"email": "x@example.com"}), admin_json, 400, "missing field 'phone_support'"),
        ("/v1/users/x-1", json.dumps({"email": 5, "phone_support": True}), admin_json, 400, "'email' must be a string"),
        ("/v1/users/x-1", json.dumps({"email": "x@example.com", "phone_support": "yes"}), admin_json, 400,
         "'phone_support' must be true or false"),
        ("/v1/users/x-1", json.dumps({"email": "x@example.com", "phone_support": True, "role": "admin"}), admin_json,
         400, "unknown field 'role'"),
        ("/v1/users/x-1", json.dumps({"email": "x" * 250 + "@example.com", "phone_support": True}), admin_json, 400,
         "email"),
        ("/v1/users/x-1", good, bearer(api.admin, {"Content-Type": "text/plain"}), 415, "application/json"),
        ("/v1/users/x-1", good, bearer(api.admin), 415, "application/json"),
        ("/v1/users/x-1", json.dumps({"email": "x@example.com", "phone_support": True, "pad": "p" * 70000}),
         admin_json, 413, None),
        # Email conflict: carol's address, in another case, for another id.
        ("/v1/users/x-1", json.dumps({"email": "CAROL@example.com", "phone_support": True}), admin_json, 409, "email"),
    ]
    for email in ["no-at-sign", "a@b", "@example.com", "a@", "a@@example.com", "a b@example.com", "x@example.com.",
                  "", "   ", "tab\t@example.com"]:
        cases.append(("/v1/users/x-1", json.dumps({"email": email, "phone_support": True}), admin_json, 400, "email"))
    failures = []
    for path, body, headers, expected, detail in cases:
        try:
            check_problem(*api.server.request("PUT", path, body, headers), expected, detail)
        except AssertionError as exc:
            failures.append("PUT %s %r: %s" % (path[:40], body[:60], exc))
    check(not failures, "\n  " + "\n  ".join(failures))
    check(api.count() == before, "rejected requests wrote %d audit entries" % (api.count() - before))
    agent = bearer(api.token("agent", "agent-1"))
    check(api.server.request("GET", "/v1/users?email=x@example.com", headers=agent)[0] == 404, "x-1 was created")
    status, _, body = api.server.json("GET", "/v1/users?email=carol@example.com", headers=agent)
    check(status == 200 and body["id"] == "carol-1", "carol unchanged: %d %r" % (status, body))


def test_lookup_by_email():
    api = API
    api.put_user("dave-1", "Dave@Example.com")
    agent = bearer(api.token("agent", "agent-lookup"))
    before = api.count()
    status, headers, body = api.server.json("GET", "/v1/users?email=DAVE%40example.com", headers=agent)
    check(status == 200, "lookup: %d %r" % (status, body))
    check(body["id"] == "dave-1" and body["email"] == "dave@example.com" and body["phone_support"] is True,
          "lookup body %r" % body)
    entries = api.audit()
    check(len(entries) == before + 1, "one audit entry per lookup")
    last = entries[-1]
    check(last["action"] == "user.lookup" and last["actor_type"] == "agent" and last["actor_id"] == "agent-lookup" and
          last["subject"] == "dave-1" and last["outcome"] == "found", "lookup audit %r" % last)
    # An admin may look up too.
    status, _, body = api.server.json("GET", "/v1/users?email=dave@example.com", headers=bearer(api.admin))
    check(status == 200 and body["id"] == "dave-1", "admin lookup %d" % status)
    check_problem(*api.server.request("GET", "/v1/users?email=nobody@example.com", headers=agent), 404)
    last = api.audit()[-1]
    check(last["action"] == "user.lookup" and last["outcome"] == "not_found" and last["subject"] == "",
          "not-found lookup audit %r" % last)
    before = api.count()
    check_problem(*api.server.request("GET", "/v1/users", headers=agent), 400, "email")
    check_problem(*api.server.request("GET", "/v1/users?email=not-an-email", headers=agent), 400, "email")
    check_problem(*api.server.request("GET", "/v1/users?email=dave@example.com&x=1", headers=agent), 400,
                  "unknown query parameter 'x'")
    check_problem(*api.server.request("GET", "/v1/users?email=%zz", headers=agent), 400, "email")
    check(api.count() == before, "rejected lookups wrote audit entries")


# ---------------------------------------------------------------------------------------------
# GET /v1/me/phone-token

def test_phone_token_matches_derivation_across_steps():
    api = API
    api.put_user("pt-1", "pt-1@example.com")
    api.put_user("pt-2", "pt-2@example.com")
    api.put_user("pt-off", "pt-off@example.com", phone_support=False)
    for user in ("pt-1", "pt-2"):
        api.token("customer", user)
    step = wait_for_step_start(PERIOD)
    first = api.phone_token("pt-1")
    old_2 = api.phone_token("pt-2")
    check(set(first) == {"token", "step", "expires_at", "period"}, "fields %r" % first)
    check(first["step"] == step and first["period"] == PERIOD, "step/period %r (local step %d)" % (first, step))
    check(first["expires_at"] == (step + 1) * PERIOD, "expires_at %r" % first)
    check(first["token"] == phone_token_at(api.data_dir, "pt-1", step), "token differs from the derivation")
    check(old_2["step"] == step and old_2["token"] == phone_token_at(api.data_dir, "pt-2", step), "pt-2 token")
    # Ineligible and unregistered customers get no token.
    check_problem(*api.server.request("GET", "/v1/me/phone-token", headers=bearer(api.token("customer", "pt-off"))),
                  403, "phone support")
    check_problem(*api.server.request("GET", "/v1/me/phone-token", headers=bearer(api.token("customer", "pt-none"))),
                  404)

    # Next step: a new token; the previous step's token is still accepted by verify.
    step = wait_for_step_start(PERIOD)
    second = api.phone_token("pt-1")
    check(second["step"] == first["step"] + 1, "step did not advance: %r then %r" % (first, second))
    check(second["token"] == phone_token_at(api.data_dir, "pt-1", step), "next token differs from the derivation")
    check(second["token"] != first["token"], "token did not change across the boundary")
    check(api.verify_ok({"user": "pt-1", "code": first["token"]}) == valid("pt-1"), "previous step refused")

    # Two steps later the old token is refused, while the current one is accepted.
    wait_for_step_start(PERIOD)
    check(api.verify_ok({"user": "pt-2", "code": old_2["token"]}) == invalid("pt-2"), "token two steps old accepted")
    current = api.phone_token("pt-2")
    check(api.verify_ok({"user": "pt-2", "code": current["token"]}) == valid("pt-2"), "current token refused")
    outcomes = [e["outcome"] for e in entries_for(api, "pt-2", "verify")]
    check(outcomes == ["invalid", "valid"], "pt-2 verify outcomes %r" % outcomes)


# ---------------------------------------------------------------------------------------------
# POST /v1/verify

def test_verify_single_use_and_shapes():
    api = API
    for user in ("v-1", "v-2", "v-3"):
        api.put_user(user, user + "@example.com")
        api.token("customer", user)
    api.put_user("v-off", "v-off@example.com", phone_support=False)
    wait_for_step_start(PERIOD)
    tok_1 = api.phone_token("v-1")["token"]
    old_2 = api.phone_token("v-2")["token"]
    check(api.verify_ok({"user": "v-1", "code": tok_1, "ticket": "T-1", "reason": "password reset"}) == valid("v-1"),
          "valid code refused")
    check(api.verify_ok({"user": "v-1", "code": tok_1}) == invalid("v-1"), "replayed code accepted")
    check(api.verify_ok({"user": "v-1", "code": tok_1}, agent="agent-2") == invalid("v-1"),
          "replay by another agent accepted")
    # The right code for an ineligible user is never accepted (it is still computed).
    check(api.verify_ok({"user": "v-off", "code": phone_token_at(api.data_dir, "v-off", current_step(PERIOD))}) ==
          invalid("v-off"), "ineligible user verified")
    # Unknown users: the same shape as a wrong code.
    check(api.verify_ok({"user": "nobody-here", "code": "123456"}) == invalid("nobody-here"), "unknown id shape")
    check(api.verify_ok({"email": "nobody@example.com", "code": "123456"}) == invalid(None), "unknown email shape")

    # An older code after a newer one was accepted: refused although still inside the window.
    wait_for_step_start(PERIOD)
    new_2 = api.phone_token("v-2")["token"]
    check(new_2 != old_2, "token did not change")
    check(api.verify_ok({"user": "v-2", "code": new_2}) == valid("v-2"), "newer code refused")
    check(api.verify_ok({"user": "v-2", "code": old_2}) == invalid("v-2"), "older code accepted after a newer one")

    # By email, in any case.
    tok_3 = api.phone_token("v-3")["token"]
    check(api.verify_ok({"email": "V-3@Example.COM", "code": tok_3}) == valid("v-3"), "verify by email")

    trail = entries_for(api, "v-1", "verify")
    check([e["outcome"] for e in trail] == ["valid", "replayed", "replayed"], "v-1 outcomes %r" % trail)
    first = trail[0]
    check(first["actor_type"] == "agent" and first["actor_id"] == "agent-1" and trail[2]["actor_id"] == "agent-2",
          "actors %r" % trail)
    check(first["details"].get("method") == "phone_token" and first["details"].get("ticket") == "T-1" and
          first["details"].get("reason") == "password reset" and first["details"].get("lookup") == "id",
          "details %r" % first["details"])
    check(first["source_ip"] == "127.0.0.1" and first["request_id"], "source/request id %r" % first)
    by_email = entries_for(api, "v-3", "verify")[-1]
    check(by_email["outcome"] == "valid" and by_email["details"].get("lookup") == "email", "email audit %r" % by_email)
    unknown = [e for e in api.audit() if e["action"] == "verify" and e["outcome"] == "unknown_user"]
    check(len(unknown) >= 2, "unknown users are audited: %r" % unknown)
    for entry in api.audit():
        text = json.dumps({k: v for k, v in entry.items() if k not in ("hash", "prev_hash", "time", "seq")})
        for code in (tok_1, old_2, new_2, tok_3):
            check(code not in text, "audit entry %d contains a code" % entry["seq"])


def test_verify_rejects_malformed_requests():
    api = API
    api.put_user("m-1", "m-1@example.com")
    before = api.count()
    agent = json_headers(api.token("agent", "agent-1"))
    cases = [
        ({"user": "m-1"}, 400, "missing field 'code'"),
        ({"user": "m-1", "email": "m-1@example.com", "code": "123456"}, 400, "exactly one"),
        ({"code": "123456"}, 400, "exactly one"),
        ({"user": "m-1", "code": "12a456"}, 400, "digits"),
        ({"user": "m-1", "code": "12345"}, 400, "digits"),
        ({"user": "m-1", "code": "1234567"}, 400, "digits"),
        ({"user": "m-1", "code": " 123456"}, 400, "digits"),
        ({"user": "m-1", "code": ""}, 400, "digits"),
        ({"user": "m-1", "code": 123456}, 400, "'code' must be a string"),
        ({"user": 7, "code": "123456"}, 400, "'user' must be a string"),
        ({"user": "bad id", "code": "123456"}, 400, "user id"),
        ({"email": "not-an-email", "code": "123456"}, 400, "email"),
        ({"user": "m-1", "code": "123456", "ticket": "t" * 129}, 400, "ticket"),
        ({"user": "m-1", "code": "123456", "agent": "x"}, 400, "unknown field 'agent'"),
        ("not json", 400, "not valid JSON"),
        ("[]", 400, "JSON object"),
    ]
    failures = []
    for body, expected, detail in cases:
        payload = body if isinstance(body, str) else json.dumps(body)
        try:
            check_problem(*api.server.request("POST", "/v1/verify", payload, agent), expected, detail)
        except AssertionError as exc:
            failures.append("%r: %s" % (body, exc))
    try:
        check_problem(*api.server.request("POST", "/v1/verify", json.dumps({"user": "m-1", "code": "123456"}),
                                          bearer(api.token("agent", "agent-1"), {"Content-Type": "text/plain"})), 415)
    except AssertionError as exc:
        failures.append("text/plain: %s" % exc)
    check(not failures, "\n  " + "\n  ".join(failures))
    check(api.count() == before, "malformed verifies wrote %d audit entries" % (api.count() - before))


def replay_refused_after(sig):
    period = 10  # room for a restart inside the acceptance window (current + previous step)
    config = "[phone_token]\nperiod = %d\n" % period
    first = Api(config)
    second = None
    try:
        first.put_user("r-1", "r-1@example.com")
        first.token("customer", "r-1")
        first.token("agent", "agent-1")
        step = wait_for_step_start(period)
        token = first.phone_token("r-1")
        check(token["step"] == step, "step %r, local %d" % (token, step))
        check(first.verify_ok({"user": "r-1", "code": token["token"]}) == valid("r-1"), "first use refused")
        # SIGKILL leaves no chance to write anything after the reply: what the reply promised
        # must already be stored.
        code = first.server.stop(sig)
        check(code == (0 if sig == signal.SIGTERM else -signal.SIGKILL), "exit code %d after %s" % (code, sig.name))
        second = Api(config, data_dir=first.data_dir)
        second._tokens = dict(first._tokens)  # the HS256 key survives restarts
        again = second.verify_ok({"user": "r-1", "code": token["token"]})
        elapsed_step = current_step(period)
        check(elapsed_step <= step + 1, "restart took too long: the code left the window (step %d -> %d)" %
              (step, elapsed_step))
        check(again == invalid("r-1"), "code accepted again after a restart: %r" % again)
        outcomes = [e["outcome"] for e in entries_for(second, "r-1", "verify")]
        check(outcomes == ["valid", "replayed"], "outcomes across the restart %r" % outcomes)
    finally:
        if second is not None:
            second.server.cleanup()
        first.close()


def test_replay_refused_after_restart():
    replay_refused_after(signal.SIGTERM)


def test_replay_refused_after_kill():
    replay_refused_after(signal.SIGKILL)


def test_twenty_agents_race():
    api = API
    api.put_user("race-1", "race-1@example.com")
    agents = ["race-agent-%02d" % i for i in range(20)]
    minting = [threading.Thread(target=api.token, args=("agent", a)) for a in agents]
    for t in minting:
        t.start()
    for t in minting:
        t.join()
    api.token("customer", "race-1")
    wait_for_step_start(PERIOD)
    code = api.phone_token("race-1")["token"]
    body = json.dumps({"user": "race-1", "code": code})
    conns = []
    for _ in agents:
        conn = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=60)
        conn.connect()
        conns.append(conn)
    barrier = threading.Barrier(len(agents))
    results = [None] * len(agents)

    def race(i):
        try:
            barrier.wait()
            conns[i].request("POST", "/v1/verify", body, json_headers(api.token("agent", agents[i])))
            res = conns[i].getresponse()
            results[i] = (res.status, res.read())
        except Exception as exc:  # noqa: BLE001
            results[i] = (None, repr(exc))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(agents))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for conn in conns:
        conn.close()
    check(all(r is not None and r[0] == 200 for r in results), "statuses %r" % results)
    bodies = [json.loads(r[1]) for r in results]
    winners = [b for b in bodies if b["valid"]]
    check(len(winners) == 1, "%d agents got valid:true: %r" % (len(winners), bodies))
    check(winners[0] == valid("race-1"), "winner %r" % winners[0])
    check(all(b == invalid("race-1") for b in bodies if not b["valid"]), "losers %r" % bodies)
    trail = entries_for(api, "race-1", "verify")
    outcomes = sorted(e["outcome"] for e in trail)
    check(outcomes == ["replayed"] * 19 + ["valid"], "audit outcomes %r" % outcomes)
    check(sorted(e["actor_id"] for e in trail) == agents, "every agent's attempt is audited")


def test_throttling_with_retry_after():
    api = Api("[phone_token]\nperiod = %d\n\n[verify]\nuser_failures = 3\n" % PERIOD)
    try:
        for user in ("th-1", "th-2"):
            api.put_user(user, user + "@example.com")
            api.token("customer", user)
        api.token("agent", "agent-1")
        api.token("agent", "agent-2")
        wait_for_step_start(PERIOD)
        step = current_step(PERIOD)
        right = [phone_token_at(api.data_dir, "th-1", s) for s in (step - 1, step, step + 1, step + 2)]
        bad = wrong_code(*right)
        for i in range(3):
            check(api.verify_ok({"user": "th-1", "code": bad}) == invalid("th-1"), "wrong code %d" % (i + 1))
        status, headers, body = api.verify({"user": "th-1", "code": bad})
        check_problem(status, headers, body, 429)
        retry = headers.get("retry-after", "")
        check(re.fullmatch(r"[0-9]+", retry) is not None and 1 <= int(retry) <= 2 * 900,
              "Retry-After %r" % retry)
        # Throttled even with the right code, and for every agent.
        status, headers, body = api.verify({"user": "th-1", "code": api.phone_token("th-1")["token"]}, agent="agent-2")
        check_problem(status, headers, body, 429)
        check(headers.get("retry-after"), "Retry-After on the second 429")
        # Other users are not affected.
        check(api.verify_ok({"user": "th-2", "code": api.phone_token("th-2")["token"]}) == valid("th-2"),
              "another user was throttled")
        outcomes = [e["outcome"] for e in entries_for(api, "th-1", "verify")]
        check(outcomes == ["invalid"] * 3 + ["throttled"] * 2, "th-1 outcomes %r" % outcomes)
        # Unknown users are throttled the same way, so throttling reveals nothing.
        for i in range(3):
            check(api.verify_ok({"email": "ghost@example.com", "code": bad}) == invalid(None), "ghost %d" % i)
        status, headers, body = api.verify({"email": "ghost@example.com", "code": bad})
        check_problem(status, headers, body, 429)
        check(re.fullmatch(r"[0-9]+", headers.get("retry-after", "")), "Retry-After for an unknown user")
    finally:
        api.close()


# ---------------------------------------------------------------------------------------------
# Authenticator apps

def oathtool(secret, at=None):
    """The current TOTP code of a base32 secret, computed by Debian's oathtool."""
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


def enroll(api, customer):
    status, headers, body = api.server.json("POST", "/v1/me/authenticator", headers=bearer(customer))
    check(status == 201, "enroll: %d %r" % (status, body))
    check(re.fullmatch(r"[A-Z2-7]{32}", body["secret"]) is not None, "secret %r" % body["secret"])
    uri = body["otpauth_uri"]
    check(uri.startswith("otpauth://totp/") and "secret=" + body["secret"] in uri and "issuer=callsign" in uri,
          "otpauth uri %r" % uri)
    check(body["qr_svg"].startswith("<svg") and body["qr_svg"].rstrip().endswith("</svg>"), "qr_svg")
    return body["secret"]


def confirm(api, customer, code):
    return api.server.request("POST", "/v1/me/authenticator/confirm", json.dumps({"code": code}),
                              json_headers(customer))


def test_authenticator_enrollment_with_oathtool():
    api = API
    api.put_user("au-1", "au-1@example.com")
    customer = api.token("customer", "au-1")
    agent = "agent-au"
    api.token("agent", agent)
    lookup = bearer(api.token("agent", agent))

    first_secret = enroll(api, customer)
    second_secret = enroll(api, customer)  # re-enrolling replaces the pending secret
    check(second_secret != first_secret, "re-enrollment returned the same secret")
    status, _, body = api.server.json("GET", "/v1/users?email=au-1@example.com", headers=lookup)
    check(body["authenticator"] == "pending", "state while pending: %r" % body)

    now = int(time.time())
    replaced = oathtool(first_secret)
    current = [oathtool(second_secret, at) for at in (now - 30, now, now + 30, now + 60)]
    if replaced not in current:
        check_problem(*confirm(api, customer, replaced), 422)
    check_problem(*confirm(api, customer, wrong_code(*current)), 422, "does not match")
    check_problem(*confirm(api, customer, "12ab56"), 400, "digits")
    check_problem(*api.server.request("POST", "/v1/me/authenticator/confirm", "{}", json_headers(customer)), 400,
                  "missing field 'code'")
    # A pending secret is not accepted by verify.
    check(api.verify_ok({"user": "au-1", "code": oathtool(second_secret)}, agent) == invalid("au-1"),
          "a pending authenticator verified")

    status, headers, body = api.server.json("POST", "/v1/me/authenticator/confirm",
                                            json.dumps({"code": oathtool(second_secret)}), json_headers(customer))
    check(status == 200 and body["state"] == "active", "confirm: %d %r" % (status, body))
    status, _, body = api.server.json("GET", "/v1/users?email=au-1@example.com", headers=lookup)
    check(body["authenticator"] == "active", "state after confirm: %r" % body)
    check_problem(*confirm(api, customer, oathtool(second_secret)), 409, "pending")

    # The confirming code is used up; the next step's code (one step ahead is accepted) verifies.
    ahead = oathtool(second_secret, int(time.time()) + 30)
    result = api.verify_ok({"user": "au-1", "code": ahead, "ticket": "T-au"}, agent)
    check(result == valid("au-1", "authenticator"), "authenticator code refused: %r" % result)
    check(api.verify_ok({"user": "au-1", "code": ahead}, agent) == invalid("au-1"), "authenticator replay accepted")

    status, headers, raw = api.server.request("DELETE", "/v1/me/authenticator", headers=bearer(customer))
    check(status == 204 and raw == b"", "delete: %d %r" % (status, raw))
    check_problem(*api.server.request("DELETE", "/v1/me/authenticator", headers=bearer(customer)), 404)
    status, _, body = api.server.json("GET", "/v1/users?email=au-1@example.com", headers=lookup)
    check(body["authenticator"] == "none", "state after delete: %r" % body)
    later = oathtool(second_secret, int(time.time()) + 30)
    check(api.verify_ok({"user": "au-1", "code": later}, agent) == invalid("au-1"), "removed authenticator verified")

    # The customer's own trail, newest first, shows who verified them and the outcome.
    status, _, body = api.server.json("GET", "/v1/me/audit", headers=bearer(customer))
    check(status == 200, "me/audit: %d %r" % (status, body))
    entries = body["entries"]
    seqs = [e["seq"] for e in entries]
    check(seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), "not newest first: %r" % seqs)
    check(all(e["subject"] == "au-1" for e in entries), "foreign entries in the trail")
    actions = [(e["action"], e["outcome"]) for e in reversed(entries)]
    expected = [("user.create", "ok"), ("authenticator.enroll", "pending"), ("authenticator.enroll", "pending")]
    expected += [("authenticator.confirm", "invalid")] * (2 if replaced not in current else 1)
    expected += [("verify", "invalid"), ("authenticator.confirm", "active"), ("verify", "valid"),
                 ("verify", "replayed"), ("authenticator.remove", "removed"), ("verify", "invalid")]
    # The lookups by the agent are audited under au-1 too.
    got = [a for a in actions if a[0] != "user.lookup"]
    check(got == expected, "trail %r, expected %r" % (got, expected))
    check(sum(1 for a in actions if a[0] == "user.lookup") == 3, "lookups in the trail %r" % actions)
    verified = [e for e in entries if e["action"] == "verify" and e["outcome"] == "valid"][0]
    check(verified["actor_type"] == "agent" and verified["actor_id"] == agent and isinstance(verified["time"], int),
          "verify entry %r" % verified)
    check(verified["details"].get("method") == "authenticator" and verified["details"].get("ticket") == "T-au",
          "verify details %r" % verified["details"])
    for entry in entries:
        text = json.dumps(entry)
        check(second_secret not in text and first_secret not in text, "a secret in the trail")
    # Paging: limit and next_before.
    status, _, page = api.server.json("GET", "/v1/me/audit?limit=2", headers=bearer(customer))
    check(status == 200 and [e["seq"] for e in page["entries"]] == seqs[:2] and page["next_before"] == seqs[1],
          "first page %r" % page)
    status, _, page = api.server.json("GET", "/v1/me/audit?limit=2&before=%d" % seqs[1], headers=bearer(customer))
    check(status == 200 and [e["seq"] for e in page["entries"]] == seqs[2:4], "second page %r" % page)
    check_problem(*api.server.request("GET", "/v1/me/audit?limit=0", headers=bearer(customer)), 400, "limit")
    check_problem(*api.server.request("GET", "/v1/me/audit?user=bob", headers=bearer(customer)), 400, "user")


def test_authenticator_window_and_order():
    """Authenticator codes: one step ahead is accepted (default), two ahead or two behind never;
    the previous step is refused once a later step was used."""
    api = API
    api.put_user("au-2", "au-2@example.com")
    customer = api.token("customer", "au-2")
    api.token("agent", "agent-1")
    secret = enroll(api, customer)
    # Stay clear of the 30 s boundary so "now" is the same step for oathtool and callsignd.
    if time.time() % 30 > 25:
        wait_for_step_start(30)
    now = int(time.time())
    status, _, raw = confirm(api, customer, oathtool(secret, now - 30))  # the previous step confirms too
    check(status == 200, "confirm with the previous step's code: %d %r" % (status, raw))
    for offset in (-60, 60):
        result = api.verify_ok({"user": "au-2", "code": oathtool(secret, now + offset)})
        check(result == invalid("au-2"), "code %+d s accepted: %r" % (offset, result))
    check(api.verify_ok({"user": "au-2", "code": oathtool(secret, now + 30)}) == valid("au-2", "authenticator"),
          "code one step ahead refused")
    # The current step is older than the step just used: refused although inside the window.
    check(api.verify_ok({"user": "au-2", "code": oathtool(secret, now)}) == invalid("au-2"),
          "an older authenticator code was accepted after a newer one")
    check(time.time() - now < 5, "the checks took too long to stay inside one step")


def test_ineligible_customer_cannot_enroll():
    api = API
    api.put_user("au-off", "au-off@example.com", phone_support=False)
    customer = api.token("customer", "au-off")
    check_problem(*api.server.request("POST", "/v1/me/authenticator", headers=bearer(customer)), 403)
    check_problem(*api.server.request("POST", "/v1/me/authenticator",
                                      headers=bearer(api.token("customer", "au-none"))), 404)


def test_my_audit_never_shows_other_users():
    api = API
    # "ali" is a prefix of "alice": the per-user index must keep them apart.
    users = ["ali", "alice", "bob-2"]
    for user in users:
        api.put_user(user, user + "@example.com")
        api.token("customer", user)
    wait_for_step_start(PERIOD)
    for user in users:
        check(api.verify_ok({"user": user, "code": api.phone_token(user)["token"]}) == valid(user), "verify " + user)
        api.verify_ok({"email": user + "@example.com", "code": "000000"})
        status, _, _ = api.server.request("POST", "/v1/me/authenticator", headers=bearer(api.token("customer", user)))
        check(status == 201, "enroll %s: %d" % (user, status))
    # An unregistered customer's trail is empty.
    status, _, body = api.server.json("GET", "/v1/me/audit", headers=bearer(api.token("customer", "al")))
    check(status == 200 and body["entries"] == [] and body["next_before"] is None, "unregistered trail %r" % body)
    for user in users:
        status, _, body = api.server.json("GET", "/v1/me/audit?limit=200",
                                          headers=bearer(api.token("customer", user)))
        check(status == 200, "me/audit %s: %d" % (user, status))
        entries = body["entries"]
        check(entries and all(e["subject"] == user for e in entries),
              "%s sees %r" % (user, sorted({e["subject"] for e in entries})))
        mine = {e["seq"] for e in api.audit() if e["subject"] == user}
        check({e["seq"] for e in entries} == mine, "%s: trail differs from the journal" % user)
        by_admin = audit_entries(api.server, api.admin, user=user)
        check([e["seq"] for e in by_admin] == sorted(mine), "%s: GET /v1/audit?user= differs" % user)
        check(len(entries) == 4, "%s: %d entries" % (user, len(entries)))


CASES = [
    ("put_user_creates_then_updates", test_put_user_creates_then_updates),
    ("put_user_rejects_bad_input_and_writes_nothing", test_put_user_rejects_bad_input_and_writes_nothing),
    ("lookup_by_email", test_lookup_by_email),
    ("phone_token_matches_derivation_across_steps", test_phone_token_matches_derivation_across_steps),
    ("verify_single_use_and_shapes", test_verify_single_use_and_shapes),
    ("verify_rejects_malformed_requests", test_verify_rejects_malformed_requests),
    ("replay_refused_after_restart", test_replay_refused_after_restart),
    ("replay_refused_after_kill", test_replay_refused_after_kill),
    ("twenty_agents_race", test_twenty_agents_race),
    ("throttling_with_retry_after", test_throttling_with_retry_after),
    ("authenticator_enrollment_with_oathtool", test_authenticator_enrollment_with_oathtool),
    ("authenticator_window_and_order", test_authenticator_window_and_order),
    ("ineligible_customer_cannot_enroll", test_ineligible_customer_cannot_enroll),
    ("my_audit_never_shows_other_users", test_my_audit_never_shows_other_users),
]


def main():
    global API
    API = Api()
    try:
        return run_cases(CASES)
    finally:
        API.close()


if __name__ == "__main__":
    sys.exit(main())
