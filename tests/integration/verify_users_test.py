"""Integration: PUT /v1/users/{id} (create, update, rejected input that writes nothing),
GET /v1/users?email= (lookup and its audit entries) and GET /v1/me/phone-token (tokens equal to
the derivation across steps, the previous step still accepted by verify), all against the real
callsignd. Phone tokens use a 3-second period; tests that must stay inside one step first wait
until just after a step boundary (harness.wait_for_step_start)."""
import json
import sys
import time

from harness import (bearer, check, check_problem, json_headers, parse_args, phone_token_at,
                     wait_for_step_start)
from verify_api import PERIOD, entries_for, invalid, run_suite, valid

ARGS, _ = parse_args()
API = None  # the shared server of every case, started by run_suite


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
    check_problem(*api.server.request("GET", "/v1/users", headers=agent), 403, "email")
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


CASES = [
    ("put_user_creates_then_updates", test_put_user_creates_then_updates),
    ("put_user_rejects_bad_input_and_writes_nothing", test_put_user_rejects_bad_input_and_writes_nothing),
    ("lookup_by_email", test_lookup_by_email),
    ("phone_token_matches_derivation_across_steps", test_phone_token_matches_derivation_across_steps),
]


if __name__ == "__main__":
    sys.exit(run_suite(ARGS, CASES, globals()))
