"""Integration: the authorization matrix. Every route callsignd lists (--list-routes) x every
principal: no token, expired, bad signature, alg none, wrong audience, wrong issuer, wrong scheme,
garbage, customer (self), customer (other user), agent, service, admin. Each cell has its
expected status; the test fails on any cell that differs and lists them all. Refusals (401/403)
are problem+json and write nothing; a customer's 2xx shows only that customer's own data."""
import json
import os
import re
import subprocess
import sys
import time

from harness import (Server, audit_count, bearer, check, claims_for, craft_token, jwt_key, mint_token, parse_args,
                     phone_token_at, run_cases)

ARGS, _ = parse_args()
ROLES = ["customer", "agent", "service", "admin"]
CUSTOMER = "authz-user"
OTHER = "authz-other"
SUBJECTS = {"customer": CUSTOMER, "agent": "authz-agent", "service": "authz-service", "admin": "authz-admin"}

# The principals of the matrix, in the order each row is sent. The broken credentials carry
# the role the route would otherwise allow.
BAD = ["none", "expired", "bad signature", "alg none", "wrong audience", "wrong issuer", "basic scheme",
       "garbage"]
GOOD = ["customer (self)", "customer (other)", "agent", "service", "admin"]
PRINCIPALS = BAD + GOOD


def row(method, path, body, **good):
    """One route: every broken credential gets 401; `good` gives the status of each valid
    principal (keyword names: self, other, agent, service, admin)."""
    names = {"self": "customer (self)", "other": "customer (other)", "agent": "agent", "service": "service",
             "admin": "admin"}
    expected = {kind: 401 for kind in BAD}
    for key, status in good.items():
        expected[names[key]] = status
    missing = [p for p in GOOD if p not in expected]
    if missing:
        raise ValueError("%s %s: no expected status for %s" % (method, path, missing))
    return (method, path, body, expected)


def public(method, path, status):
    """A route that ignores credentials: the same status for every principal."""
    return (method, path, None, {p: status for p in PRINCIPALS})


# The authorization matrix: every route x every principal, each cell with its status. Rows
# that change state are sent in PRINCIPALS order, so e.g. the admin's PUT creates (201).
MATRIX = [
    public("GET", "/healthz", 200),
    public("GET", "/readyz", 200),
    public("GET", "/metrics", 200),
    public("GET", "/", 200),
    public("GET", "/agent", 200),
    public("GET", "/admin", 200),
    public("GET", "/static/style.css", 200),
    public("POST", "/v1/dev/token", 404),  # dev mode only; this server is not in dev mode
    row("GET", "/v1/users?email=authz-user@example.com", None, self=403, other=403, agent=200, service=403,
        admin=200),
    row("PUT", "/v1/users/authz-put", {"email": "authz-put@example.com", "phone_support": True}, self=403,
        other=403, agent=403, service=403, admin=201),
    # The user directory (issue 17): one user by id, the paged listing, and deprovisioning the
    # user the row above created (so the admin's DELETE answers 204).
    row("GET", "/v1/users/authz-user", None, self=403, other=403, agent=200, service=403, admin=200),
    row("GET", "/v1/users?limit=2", None, self=403, other=403, agent=403, service=403, admin=200),
    row("DELETE", "/v1/users/authz-put", None, self=403, other=403, agent=403, service=403, admin=204),
    row("POST", "/v1/admin/users/import",
        ("application/x-ndjson", b'{"id":"authz-imp","email":"authz-imp@example.com","phone_support":true}\n'),
        self=403, other=403, agent=403, service=403, admin=200),
    row("GET", "/v1/me/phone-token", None, self=200, other=200, agent=403, service=403, admin=403),
    row("GET", "/v1/me/audit", None, self=200, other=200, agent=403, service=403, admin=403),
    row("POST", "/v1/me/authenticator", None, self=201, other=201, agent=403, service=403, admin=403),
    row("POST", "/v1/me/authenticator/confirm", {"code": "000000"}, self=422, other=422, agent=403, service=403,
        admin=403),
    row("DELETE", "/v1/me/authenticator", None, self=204, other=204, agent=403, service=403, admin=403),
    row("POST", "/v1/verify", {"user": CUSTOMER, "code": "000000"}, self=403, other=403, agent=200, service=403,
        admin=403),
    row("GET", "/v1/audit", None, self=403, other=403, agent=403, service=403, admin=200),
    row("GET", "/v1/audit?user=authz-user&limit=5", None, self=403, other=403, agent=403, service=403, admin=200),
    # Failed-login limits: the gate is for nginx auth_request and takes no credentials.
    public("GET", "/v1/login/gate", 204),
    row("POST", "/v1/login/check", {"ip": "192.0.2.1", "username": "authz", "password": "authz-pw"}, self=403,
        other=403, agent=403, service=200, admin=403),
    row("POST", "/v1/login/result", {"ip": "192.0.2.1", "username": "authz", "success": True}, self=403,
        other=403, agent=403, service=200, admin=403),
    row("GET", "/v1/admin/blocks", None, self=403, other=403, agent=403, service=403, admin=200),
    row("DELETE", "/v1/admin/blocks/192.0.2.1", None, self=403, other=403, agent=403, service=403, admin=404),
    # Account-takeover lists: an upload of raw list content, then a reload of the same content.
    row("GET", "/v1/admin/lists", None, self=403, other=403, agent=403, service=403, admin=200),
    row("PUT", "/v1/admin/lists/managed_devices", b"AUTHZ-DEVICE-1\n", self=403, other=403, agent=403,
        service=403, admin=200),
    row("POST", "/v1/admin/lists/managed_devices/reload", None, self=403, other=403, agent=403, service=403,
        admin=200),
    # Login rules (issue 19): install a file (it blocks an address no other row uses), read it,
    # test a sample, read the file again, turn its rule's shadow mode on.
    row("PUT", "/v1/admin/rules",
        ("application/toml", b'[[rule]]\nid = "authz"\nexpression = "ip.src in {192.0.2.250}"\naction = "block"\n'),
        self=403, other=403, agent=403, service=403, admin=200),
    row("GET", "/v1/admin/rules", None, self=403, other=403, agent=403, service=403, admin=200),
    row("POST", "/v1/admin/rules/test", {"request": {"ip": "192.0.2.250"}}, self=403, other=403, agent=403,
        service=403, admin=200),
    row("POST", "/v1/admin/rules/reload", None, self=403, other=403, agent=403, service=403, admin=200),
    row("POST", "/v1/admin/rules/authz/shadow", {"shadow": True}, self=403, other=403, agent=403, service=403,
        admin=200),
]
# GET /v1/stream authenticates in its first WebSocket message, not with a header: its cells
# (no token, bad tokens, non-customer roles, another user's) are in
# tests/integration/stream_auth_limits_test.js. GET /v1/admin/stream likewise: its refusals
# (bad token, customer, service and agent roles) are in tests/integration/admin_stream_test.py.
NOT_IN_MATRIX = {"GET /v1/stream", "GET /v1/admin/stream"}


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
    if isinstance(body, tuple):  # (content type, raw content), e.g. an NDJSON import
        headers["Content-Type"], payload = body
    elif isinstance(body, bytes):  # raw content, e.g. a list upload
        headers["Content-Type"] = "application/octet-stream"
        payload = body
    elif body is not None:
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


def principal_headers(principal, key, tokens, allowed_role):
    if principal in BAD:
        return bad_headers(principal, key, allowed_role)
    return bearer(tokens[principal])


def allowed_role_of(expected):
    """The role a broken credential pretends to be: one the route lets through, else admin."""
    for principal, role in (("customer (self)", "customer"), ("agent", "agent"), ("service", "service"),
                            ("admin", "admin")):
        if expected[principal] not in (401, 403):
            return role
    return "admin"


def check_content(method, path, principal, raw, tokens_of, data_dir):
    """What a customer's 2xx may show: their own data, never the other customer's."""
    if principal not in ("customer (self)", "customer (other)"):
        return None
    me = CUSTOMER if principal == "customer (self)" else OTHER
    someone_else = OTHER if me == CUSTOMER else CUSTOMER
    if path == "/v1/me/phone-token":
        shown = json.loads(raw)["token"]
        step = int(time.time() // 30)
        mine = {phone_token_at(data_dir, me, s) for s in (step - 1, step, step + 1)}
        theirs = {phone_token_at(data_dir, someone_else, s) for s in (step - 1, step, step + 1)}
        if shown not in mine or shown in theirs - mine:
            return "phone token is not the caller's own"
    if path == "/v1/me/audit":
        subjects = {e["subject"] for e in json.loads(raw)["entries"]}
        if subjects - {me}:
            return "trail shows entries about %r" % sorted(subjects - {me})
    return None


WEB_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web"))


def test_every_route_and_principal():
    server = Server(ARGS.callsignd, '[server]\nweb_root = "%s"\n' % WEB_ROOT)
    try:
        key = jwt_key(server.data_dir)
        subjects = {"customer (self)": CUSTOMER, "customer (other)": OTHER, "agent": "authz-agent",
                    "service": "authz-service", "admin": "authz-admin"}
        roles = {"customer (self)": "customer", "customer (other)": "customer", "agent": "agent",
                 "service": "service", "admin": "admin"}
        tokens = {p: mint_token(ARGS.callsign, server.data_dir, roles[p], subjects[p]) for p in GOOD}
        for user in (CUSTOMER, OTHER):
            status, _, raw = send(server, "PUT", "/v1/users/" + user,
                                  {"email": user + "@example.com", "phone_support": True}, bearer(tokens["admin"]))
            check(status == 201, "setup: create %s: %d %r" % (user, status, raw))
        # Both customers have a trail, so "other" reading their own could leak the first's.
        send(server, "POST", "/v1/verify", {"user": CUSTOMER, "code": "000000"}, bearer(tokens["agent"]))
        send(server, "POST", "/v1/verify", {"user": OTHER, "code": "000000"}, bearer(tokens["agent"]))

        listed = {line.strip() for line in subprocess.run([ARGS.callsignd, "--list-routes"], capture_output=True,
                                                          text=True, check=True).stdout.splitlines() if line.strip()}
        covered = {"%s %s" % (m, p.split("?")[0]) for m, p, _, _ in MATRIX}
        templates = {r for r in listed if r not in covered and r not in NOT_IN_MATRIX and
                     not any(re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(r)), c) for c in covered)}
        check(not templates, "routes missing from the matrix: %s" % sorted(templates))

        failures = []
        cells = 0
        # Refusals first: none of them may write anything.
        before = audit_count(server, tokens["admin"])
        for method, path, body, expected in MATRIX:
            pretend = allowed_role_of(expected)
            for principal in PRINCIPALS:
                want = expected[principal]
                if want not in (401, 403):
                    continue
                cells += 1
                headers = principal_headers(principal, key, tokens, pretend)
                wrong = problem_failure(*send(server, method, path, body, headers), want)
                if wrong:
                    failures.append("%s %s as %s: want %d, %s" % (method, path, principal, want, wrong))
        after = audit_count(server, tokens["admin"])
        if after != before:
            failures.append("401/403 replies wrote %d audit entries" % (after - before))

        for method, path, body, expected in MATRIX:
            for principal in PRINCIPALS:
                want = expected[principal]
                if want in (401, 403):
                    continue
                cells += 1
                headers = principal_headers(principal, key, tokens, allowed_role_of(expected))
                status, hdrs, raw = send(server, method, path, body, headers)
                if status != want:
                    failures.append("%s %s as %s: want %d, got %d (%s)" % (method, path, principal, want, status,
                                                                          raw[:120]))
                elif status >= 400 and problem_failure(status, hdrs, raw, want):
                    failures.append("%s %s as %s: %s" % (method, path, principal,
                                                         problem_failure(status, hdrs, raw, want)))
                elif 200 <= status < 300:
                    leak = check_content(method, path.split("?")[0], principal, raw, tokens, server.data_dir)
                    if leak:
                        failures.append("%s %s as %s: %s" % (method, path, principal, leak))
        print("checked %d cells (%d routes x %d principals)" % (cells, len(MATRIX), len(PRINCIPALS)), flush=True)
        check(cells == len(MATRIX) * len(PRINCIPALS), "cells skipped")
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
