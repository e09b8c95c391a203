"""Integration: every /v1/ route x every kind of caller against the real callsignd.

Bad credentials (none, expired, bad signature, alg none, wrong audience, wrong issuer, wrong
scheme) must give 401, a valid token with a role the route does not allow 403, both as
application/problem+json and without writing anything; an allowed role gets past both checks
(any status but 401/403, and never a 5xx). Every cell is checked and all failures are listed."""
import json
import os
import sys
import time

from harness import (Server, audit_count, bearer, check, claims_for, craft_token, jwt_key, mint_token, parse_args,
                     run_cases)

ARGS, _ = parse_args()
ROLES = ["customer", "agent", "service", "admin"]
CUSTOMER = "authz-user"
SUBJECTS = {"customer": CUSTOMER, "agent": "authz-agent", "service": "authz-service", "admin": "authz-admin"}

# (method, path, JSON body or None, roles allowed)
ROUTES = [
    ("GET", "/v1/users?email=authz-user@example.com", None, {"agent", "admin"}),
    ("PUT", "/v1/users/authz-put", {"email": "authz-put@example.com", "phone_support": True}, {"admin"}),
    ("GET", "/v1/me/phone-token", None, {"customer"}),
    ("POST", "/v1/me/authenticator", None, {"customer"}),
    ("POST", "/v1/me/authenticator/confirm", {"code": "000000"}, {"customer"}),
    ("DELETE", "/v1/me/authenticator", None, {"customer"}),
    ("POST", "/v1/verify", {"user": CUSTOMER, "code": "000000"}, {"agent"}),
    ("GET", "/v1/me/audit", None, {"customer"}),
    ("GET", "/v1/audit", None, {"admin"}),
    ("GET", "/v1/audit?user=authz-user&limit=5", None, {"admin"}),
    ("GET", "/v1/admin/lists", None, {"admin"}),
    ("POST", "/v1/admin/lists/managed_devices/reload", None, {"admin"}),
    ("PUT", "/v1/admin/lists/managed_devices", "AUTHZ-DEVICE-1", {"admin"}),
]

BAD = ["none", "expired", "bad signature", "alg none", "wrong audience", "wrong issuer", "basic scheme",
       "garbage"]


def bad_headers(kind, key, role):
    """Authorization headers for a broken credential that would otherwise carry `role`."""
    sub = SUBJECTS[role]
    if kind == "none":
        return {}
    if kind == "expired":
        # Well past the 30 s leeway.
        return bearer(craft_token(key, claims_for(role, sub, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)))
    if kind == "bad signature":
        return bearer(craft_token(os.urandom(32), claims_for(role, sub)))
    if kind == "alg none":
        return bearer(craft_token(key, claims_for(role, sub), header={"alg": "none", "typ": "JWT"}, sign=False))
    if kind == "wrong audience":
        return bearer(craft_token(key, claims_for(role, sub, aud="someone-else")))
    if kind == "wrong issuer":
        return bearer(craft_token(key, claims_for(role, sub, iss="https://evil.example/")))
    if kind == "basic scheme":
        return {"Authorization": "Basic " + craft_token(key, claims_for(role, sub))}
    if kind == "garbage":
        return bearer("not.a.jwt")
    raise ValueError(kind)


def send(server, method, path, body, headers):
    headers = dict(headers)
    payload = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        payload = json.dumps(body)
    try:
        return server.request(method, path, payload, headers)
    except OSError as exc:  # a dropped connection is a wrong cell, not the end of the table
        return 0, {}, ("connection error: %r" % exc).encode()


def problem_failure(status, headers, raw, expected):
    """None when the reply is the expected problem+json, else what is wrong."""
    if status != expected:
        return "got %d (%s)" % (status, raw[:120])
    if headers.get("content-type") != "application/problem+json":
        return "%d with content-type %r" % (status, headers.get("content-type"))
    try:
        doc = json.loads(raw)
    except ValueError:
        return "%d body is not JSON" % status
    if doc.get("status") != expected or not doc.get("title") or not doc.get("detail"):
        return "%d problem body %r" % (status, doc)
    if expected == 401 and not headers.get("www-authenticate", "").startswith("Bearer"):
        return "401 without WWW-Authenticate: Bearer (%r)" % headers.get("www-authenticate")
    return None


def test_every_route_and_principal():
    server = Server(ARGS.callsignd, "")
    try:
        key = jwt_key(server.data_dir)
        tokens = {role: mint_token(ARGS.callsign, server.data_dir, role, SUBJECTS[role]) for role in ROLES}
        status, _, raw = send(server, "PUT", "/v1/users/" + CUSTOMER,
                              {"email": CUSTOMER + "@example.com", "phone_support": True}, bearer(tokens["admin"]))
        check(status == 201, "setup: create the customer: %d %r" % (status, raw))
        failures = []
        cells = 0

        # Refusals first: none of them may write anything.
        before = audit_count(server, tokens["admin"])
        for method, path, body, allowed in ROUTES:
            role = sorted(allowed)[0]
            for kind in BAD:
                cells += 1
                headers = bad_headers(kind, key, role)
                wrong = problem_failure(*send(server, method, path, body, headers), 401)
                if wrong:
                    failures.append("%s %s as %s (%s token): want 401, %s" % (method, path, kind, role, wrong))
            for role in ROLES:
                if role in allowed:
                    continue
                cells += 1
                wrong = problem_failure(*send(server, method, path, body, bearer(tokens[role])), 403)
                if wrong:
                    failures.append("%s %s as %s: want 403, %s" % (method, path, role, wrong))
        after = audit_count(server, tokens["admin"])
        if after != before:
            failures.append("401/403 replies wrote %d audit entries" % (after - before))

        for method, path, body, allowed in ROUTES:
            for role in sorted(allowed):
                cells += 1
                status, _, raw = send(server, method, path, body, bearer(tokens[role]))
                if status in (401, 403) or status >= 500:
                    failures.append("%s %s as %s: allowed, but got %d (%s)" % (method, path, role, status, raw[:120]))
        print("checked %d cells (%d routes)" % (cells, len(ROUTES)), flush=True)
        check(not failures, "%d of %d cells wrong:\n  %s" % (len(failures), cells, "\n  ".join(failures)))
    finally:
        server.cleanup()


def test_cli_token_lifetime_and_claims():
    """`callsign token --ttl` gives a token that works now; a crafted one with the same claims
    works too (the test's own JWT code agrees with callsignd), and 401 details never echo the token."""
    server = Server(ARGS.callsignd, "")
    try:
        key = jwt_key(server.data_dir)
        short = mint_token(ARGS.callsign, server.data_dir, "admin", "ops", ttl=60)
        status, _, raw = server.request("GET", "/v1/audit", headers=bearer(short))
        check(status == 200, "short-lived CLI token refused: %d %r" % (status, raw))
        crafted = craft_token(key, claims_for("admin", "ops"))
        status, _, raw = server.request("GET", "/v1/audit", headers=bearer(crafted))
        check(status == 200, "crafted token refused: %d %r" % (status, raw))
        # Inside the leeway an expired token is still accepted; far outside it is not.
        recent = craft_token(key, claims_for("admin", "ops", exp=int(time.time()) - 5))
        check(server.request("GET", "/v1/audit", headers=bearer(recent))[0] == 200, "leeway not applied")
        # An array audience containing ours is accepted.
        multi = craft_token(key, claims_for("admin", "ops", aud=["other", "callsign"]))
        check(server.request("GET", "/v1/audit", headers=bearer(multi))[0] == 200, "array aud refused")
        # A token whose role is not one of the four is refused.
        odd = craft_token(key, claims_for("root", "ops"))
        status, headers, raw = server.request("GET", "/v1/audit", headers=bearer(odd))
        check(problem_failure(status, headers, raw, 401) is None, "unknown role: %d %r" % (status, raw))
        expired = craft_token(key, claims_for("admin", "ops", exp=int(time.time()) - 3600))
        status, headers, raw = server.request("GET", "/v1/audit", headers=bearer(expired))
        check(problem_failure(status, headers, raw, 401) is None, "expired: %d %r" % (status, raw))
        check(expired.encode() not in raw and expired.split(".")[1].encode() not in raw, "401 echoes the token")
    finally:
        server.cleanup()


CASES = [
    ("every_route_and_principal", test_every_route_and_principal),
    ("cli_token_lifetime_and_claims", test_cli_token_lifetime_and_claims),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
