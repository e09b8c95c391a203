"""Integration: the verify throttles at their documented defaults (docs/security.md, "Guessing is
throttled"; docs/configuration.md [verify]): 5 failures per user, 30 per agent and 100 per source
address in 15 minutes, then 429 problem+json with Retry-After. Every other suite raises them to
100,000; this one runs callsignd with no [verify] section at all.

Each limit is shown on its own key with the other two kept below theirs: the per-user limit across
agents and addresses, the per-agent limit across users, the per-address limit across agents and
users. Source addresses are distinct loopback addresses (127.0.0.x: Linux routes all of 127/8 to
lo), so each case starts from a fresh address count. The exact documented number is checked: the
last failure under the limit is still answered 200, the next attempt is 429, and its Retry-After
is the time until the first failure leaves the 15-minute window."""
import http.client
import json
import re
import signal
import sys
import time

from harness import (Server, check, check_problem, current_step, json_headers, mint_token, parse_args,
                     phone_token_at, run_cases, wrong_code)

ARGS, _ = parse_args()
PERIOD = 30  # the default phone-token period: the right code below stays valid for the whole case
USER_LIMIT, AGENT_LIMIT, ADDRESS_LIMIT, WINDOW = 5, 30, 100, 900


class Throttled:
    """One callsignd with the default [verify] limits, tokens minted for it, and verify from a
    chosen source address."""

    def __init__(self):
        self.server = Server(ARGS.callsignd, "")
        self.tokens = {}
        self.first_failure = None  # when the first counted failure was sent

    def token(self, role, sub):
        if (role, sub) not in self.tokens:
            self.tokens[(role, sub)] = mint_token(ARGS.callsign, self.server.data_dir, role, sub)
        return self.tokens[(role, sub)]

    def put_users(self, *users):
        for user in users:
            status, _, body = self.server.json("PUT", "/v1/users/" + user,
                                               json.dumps({"email": user + "@example.com", "phone_support": True}),
                                               json_headers(self.token("admin", "ops-1")))
            check(status in (200, 201), "PUT user %s: %d %r" % (user, status, body))

    def right(self, user):
        return phone_token_at(self.server.data_dir, user, current_step(PERIOD))

    def wrong(self, user):
        step = current_step(PERIOD)
        return wrong_code(*[phone_token_at(self.server.data_dir, user, s) for s in (step - 1, step, step + 1)])

    def verify(self, user, code, agent, source):
        """POST /v1/verify from `source`; returns (status, headers, raw body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30, source_address=(source, 0))
        try:
            conn.request("POST", "/v1/verify", json.dumps({"user": user, "code": code}),
                         json_headers(self.token("agent", agent)))
            res = conn.getresponse()
            return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.read()
        finally:
            conn.close()

    def fail(self, user, agent, source, what):
        """A wrong code that must still be counted: 200 {"valid": false}."""
        if self.first_failure is None:
            self.first_failure = time.time()
        status, _, body = self.verify(user, self.wrong(user), agent, source)
        check(status == 200 and json.loads(body)["valid"] is False, "%s: %d %r" % (what, status, body[:200]))

    def check_throttled(self, user, code, agent, source, what):
        status, headers, body = self.verify(user, code, agent, source)
        check_problem(status, headers, body, 429)
        retry = headers.get("retry-after", "")
        # Each case's limit is reached by its first failures, so the attempt is admitted again
        # when the first one leaves the 15-minute window: WINDOW seconds after it was sent (the
        # slack: whole seconds, and the send itself).
        earliest = WINDOW - (time.time() - self.first_failure) - 2
        check(re.fullmatch(r"[0-9]+", retry) is not None and earliest <= int(retry) <= WINDOW,
              "%s: Retry-After %r, expected %.0f..%d (window %d s)" % (what, retry, earliest, WINDOW, WINDOW))

    def stop(self):
        code = self.server.stop(signal.SIGTERM)
        self.server.cleanup()
        check(code == 0, "callsignd exited with %s" % code)


def users(prefix, count):
    return ["%s-%d" % (prefix, i) for i in range(count)]


def test_user_limit():
    t = Throttled()
    try:
        t.put_users("alice", "bob")
        # Five failures for alice, each by another agent from another address: all counted.
        for i in range(USER_LIMIT):
            t.fail("alice", "agent-u%d" % i, "127.0.0.%d" % (10 + i), "alice failure %d" % (i + 1))
        # The sixth attempt is refused, even with the right code, from a fresh agent and address.
        t.check_throttled("alice", t.right("alice"), "agent-u9", "127.0.0.19", "alice after 5 failures")
        # Bob is not affected, from the same agent and address.
        status, _, body = t.verify("bob", t.right("bob"), "agent-u9", "127.0.0.19")
        check(status == 200 and json.loads(body)["valid"] is True, "bob after alice's throttle: %d %r" % (status, body))
    finally:
        t.stop()


def test_agent_limit():
    t = Throttled()
    try:
        # 30 failures by one agent over 8 users (at most 4 each, under the per-user limit).
        victims = users("ag", 9)
        t.put_users(*victims)
        for i in range(AGENT_LIMIT):
            t.fail(victims[i // 4], "agent-a", "127.0.0.30", "agent-a failure %d" % (i + 1))
        # The 31st, for a user with no failures and with the right code: refused for that agent.
        fresh = victims[8]
        t.check_throttled(fresh, t.right(fresh), "agent-a", "127.0.0.31", "agent-a after 30 failures")
        # Another agent verifies that user from the same address.
        status, _, body = t.verify(fresh, t.right(fresh), "agent-b", "127.0.0.30")
        check(status == 200 and json.loads(body)["valid"] is True, "agent-b: %d %r" % (status, body))
    finally:
        t.stop()


def test_address_limit():
    t = Throttled()
    try:
        # 100 failures from one address by 4 agents (25 each, under 30) over 25 users (4 each).
        victims = users("ad", 26)
        t.put_users(*victims)
        for i in range(ADDRESS_LIMIT):
            t.fail(victims[i // 4], "agent-c%d" % (i % 4), "127.0.0.40", "127.0.0.40 failure %d" % (i + 1))
        # The 101st from that address, by a fresh agent for a fresh user with the right code: 429.
        fresh = victims[25]
        t.check_throttled(fresh, t.right(fresh), "agent-c9", "127.0.0.40", "127.0.0.40 after 100 failures")
        # The same request from another address is served.
        status, _, body = t.verify(fresh, t.right(fresh), "agent-c9", "127.0.0.41")
        check(status == 200 and json.loads(body)["valid"] is True, "127.0.0.41: %d %r" % (status, body))
    finally:
        t.stop()


if __name__ == "__main__":
    sys.exit(run_cases([
        ("user_limit_5_across_agents_and_addresses", test_user_limit),
        ("agent_limit_30_across_users", test_agent_limit),
        ("address_limit_100_across_agents", test_address_limit),
    ]))
