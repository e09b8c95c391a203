"""What the verify suites share (verify_users_test.py, verify_codes_test.py,
verify_authenticator_test.py): one callsignd with tokens minted for it, the config they run it
with, and the shapes of a verify answer. Phone tokens use a 3-second period; tests that must
stay inside one step first wait until just after a step boundary (harness.wait_for_step_start)."""
import json

from harness import Server, audit_count, audit_entries, bearer, check, json_headers, mint_token, run_cases

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
    """One callsignd plus tokens for it; `args` holds the callsignd and callsign binaries."""

    def __init__(self, args, config=CONFIG, data_dir=None):
        self.callsign = args.callsign
        self.server = Server(args.callsignd, config, data_dir=data_dir)
        self.data_dir = self.server.data_dir
        self._tokens = {}

    def token(self, role, sub):
        if (role, sub) not in self._tokens:
            self._tokens[(role, sub)] = mint_token(self.callsign, self.data_dir, role, sub)
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


def valid(user_id, method="phone_token"):
    return {"valid": True, "method": method, "user": user_id}


def invalid(user_id=None):
    """Every refusal, whoever `user_id` (the user asked for) is: the same reply byte for byte,
    naming no user (docs/security.md, "Unknown users look like wrong codes")."""
    del user_id
    return {"valid": False, "method": None, "user": None}


def entries_for(api, subject, action=None):
    return [e for e in api.audit() if e["subject"] == subject and (action is None or e["action"] == action)]


def run_suite(args, cases, suite_globals):
    """Runs a suite's `cases` against one shared server, which its cases reach as the module
    global API; stops it afterwards. Returns the exit code."""
    suite_globals["API"] = Api(args)
    try:
        return run_cases(cases)
    finally:
        suite_globals["API"].close()
