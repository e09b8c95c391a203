"""Integration: POST /v1/verify against the real callsignd: a phone token works once (also
for another agent, an ineligible user, unknown users and an older code after a newer one, with
the audit trail holding no code), malformed requests write nothing, a used code stays refused
across a restart and a SIGKILL, twenty agents racing with one code yield one winner, and
failures are throttled with Retry-After. Phone tokens use a 3-second period; tests that must
stay inside one step first wait until just after a step boundary (harness.wait_for_step_start)."""
import http.client
import json
import re
import signal
import sys
import threading

from harness import (bearer, check, check_problem, current_step, json_headers, parse_args, phone_token_at,
                     wait_for_step_start, wrong_code)
from verify_api import PERIOD, Api, entries_for, invalid, run_suite, valid

ARGS, _ = parse_args()
API = None  # the shared server of most cases, started by run_suite



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
    first = Api(ARGS, config)
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
        second = Api(ARGS, config, data_dir=first.data_dir)
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
    api = Api(ARGS, "[phone_token]\nperiod = %d\n\n[verify]\nuser_failures = 3\n" % PERIOD)
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


CASES = [
    ("verify_single_use_and_shapes", test_verify_single_use_and_shapes),
    ("verify_rejects_malformed_requests", test_verify_rejects_malformed_requests),
    ("replay_refused_after_restart", test_replay_refused_after_restart),
    ("replay_refused_after_kill", test_replay_refused_after_kill),
    ("twenty_agents_race", test_twenty_agents_race),
    ("throttling_with_retry_after", test_throttling_with_retry_after),
]


if __name__ == "__main__":
    sys.exit(run_suite(ARGS, CASES, globals()))
