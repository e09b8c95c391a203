"""Integration: authenticator apps against the real callsignd, with codes from Debian's
oathtool (enroll, re-enroll, confirm, verify, replay, remove; the window of one step ahead and
the order of steps; customers without phone support cannot enroll) and the customer's own
audit trail GET /v1/me/audit (newest first, paged, never another user's entries). Phone tokens
use a 3-second period; tests that must stay inside one step first wait until just after a step
boundary (harness.wait_for_step_start)."""
import json
import re
import signal
import sys
import time

from harness import (audit_entries, bearer, check, check_problem, json_headers, oathtool, parse_args,
                     wait_for_step_start, wrong_code)
from verify_api import PERIOD, Api, invalid, run_suite, valid

ARGS, _ = parse_args()
API = None  # the shared server of every case, started by run_suite


# ---------------------------------------------------------------------------------------------
# Authenticator apps

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


def confirmed_at_previous_step(api, user, margin):
    """Creates `user` with an authenticator confirmed by the previous step's code, at least
    `margin` seconds before the next 30 s boundary, so "now" is the same step for oathtool and
    callsignd while the caller works. Returns (customer token, secret, now)."""
    api.put_user(user, user + "@example.com")
    customer = api.token("customer", user)
    api.token("agent", "agent-1")
    secret = enroll(api, customer)
    if time.time() % 30 > 30 - margin:
        wait_for_step_start(30)
    now = int(time.time())
    status, _, raw = confirm(api, customer, oathtool(secret, now - 30))  # the previous step confirms too
    check(status == 200, "confirm with the previous step's code: %d %r" % (status, raw))
    return customer, secret, now


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
    _, secret, now = confirmed_at_previous_step(api, "au-2", margin=10)
    for offset in (-60, 60):
        result = api.verify_ok({"user": "au-2", "code": oathtool(secret, now + offset)})
        check(result == invalid("au-2"), "code %+d s accepted: %r" % (offset, result))
    check(api.verify_ok({"user": "au-2", "code": oathtool(secret, now + 30)}) == valid("au-2", "authenticator"),
          "code one step ahead refused")
    # The current step is older than the step just used: refused although inside the window.
    check(api.verify_ok({"user": "au-2", "code": oathtool(secret, now)}) == invalid("au-2"),
          "an older authenticator code was accepted after a newer one")
    # Past a step boundary the +60 s code is one step ahead and valid: the checks hold only if
    # they all ran in the step of `now`.
    check(int(time.time()) // 30 == now // 30, "a step boundary passed during the checks")


def test_replaced_authenticator_keeps_used_steps():
    """Single use is per user and method, not per secret: a step one authenticator used stays
    used for its replacement, also after a SIGKILL (its own server, restarted)."""
    first = Api(ARGS)
    second = None
    try:
        customer, old_secret, now = confirmed_at_previous_step(first, "au-r", margin=10)
        check(first.verify_ok({"user": "au-r", "code": oathtool(old_secret, now)}) == valid("au-r", "authenticator"),
              "the first authenticator's current code refused")
        status, _, _ = first.server.request("DELETE", "/v1/me/authenticator", headers=bearer(customer))
        check(status == 204, "delete: %d" % status)
        new_secret = enroll(first, customer)
        # The previous step's code proves possession; its step was used already, so it stays used.
        status, _, raw = confirm(first, customer, oathtool(new_secret, now - 30))
        check(status == 200, "confirm the replacement with an already used step: %d %r" % (status, raw))
        check(first.verify_ok({"user": "au-r", "code": oathtool(new_secret, now)}) == invalid("au-r"),
              "the replacement's code for a step the first one used was accepted")
        ahead = oathtool(new_secret, now + 30)
        check(first.verify_ok({"user": "au-r", "code": ahead}) == valid("au-r", "authenticator"),
              "the replacement's code one step ahead refused")
        code = first.server.stop(signal.SIGKILL)
        check(code == -signal.SIGKILL, "exit code %d after SIGKILL" % code)
        second = Api(ARGS, data_dir=first.data_dir)
        second._tokens = dict(first._tokens)  # the HS256 key survives restarts
        for step_code in (oathtool(new_secret, now), ahead):
            check(second.verify_ok({"user": "au-r", "code": step_code}) == invalid("au-r"),
                  "a used step was accepted after a restart")
        # Both codes are inside the window (one step behind to one ahead) while the server's step
        # is at most now's + 1: only then does "refused" prove they were marked used.
        check(int(time.time()) // 30 <= now // 30 + 1, "the checks ran after the codes' window had passed")
        outcomes = [e["outcome"] for e in second.audit() if e["subject"] == "au-r" and e["action"] == "verify"]
        check(outcomes == ["valid", "replayed", "valid", "replayed", "replayed"], "verify outcomes %r" % outcomes)
    finally:
        if second is not None:
            second.server.cleanup()
        first.close()


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
    ("authenticator_enrollment_with_oathtool", test_authenticator_enrollment_with_oathtool),
    ("authenticator_window_and_order", test_authenticator_window_and_order),
    ("replaced_authenticator_keeps_used_steps", test_replaced_authenticator_keeps_used_steps),
    ("ineligible_customer_cannot_enroll", test_ineligible_customer_cannot_enroll),
    ("my_audit_never_shows_other_users", test_my_audit_never_shows_other_users),
]


if __name__ == "__main__":
    sys.exit(run_suite(ARGS, CASES, globals()))
