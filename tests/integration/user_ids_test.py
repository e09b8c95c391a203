"""Integration: path parameters are percent-decoded once, by the router (issue 17). A user id
holding '@' and ':' is created as /v1/users/a%40b%3Ac, the way the admin page's
encodeURIComponent sends it, and every read gives it back as a@b:c: the PUT reply, the email
lookup, GET /v1/users/{id} in either spelling, the listing, the audit trail, its phone token and
a verify of that token. A bad escape, an escaped NUL and an escaped '/' are 400 problems from the
router that write nothing. Other routes with path parameters (lists, static files) decode too."""
import json
import os
import sys
import urllib.parse

from harness import Server, bearer, check, check_problem, json_headers, parse_args, phone_token_at
from verify_api import entries_for, run_suite, valid

ARGS, _ = parse_args()
API = None  # the shared server of every case, started by run_suite

USER = "a@b:c"
ENCODED = "a%40b%3Ac"  # encodeURIComponent("a@b:c")
EMAIL = "at-colon@example.com"


def put(path_id, email=EMAIL):
    return API.server.json("PUT", "/v1/users/" + path_id, json.dumps({"email": email, "phone_support": True}),
                           json_headers(API.admin))


def user_ids():
    status, _, body = API.server.json("GET", "/v1/users?limit=1000", headers=bearer(API.admin))
    check(status == 200 and body["next_after"] is None, "listing: %d %r" % (status, body))
    return [u["id"] for u in body["users"]]


def test_put_encoded_id_reads_back_decoded():
    check(urllib.parse.quote(USER, safe="") == ENCODED, "the test's own encoding")
    status, _, body = put(ENCODED)
    check(status == 201, "create %s: %d %r" % (ENCODED, status, body))
    check(body["id"] == USER, "PUT reply id %r" % body["id"])
    # The email lookup, as an agent.
    agent = bearer(API.token("agent", "agent-1"))
    status, _, body = API.server.json("GET", "/v1/users?email=" + EMAIL, headers=agent)
    check(status == 200 and body["id"] == USER, "lookup by email: %d %r" % (status, body))
    # GET /v1/users/{id}: escaped (either hex case) and raw ('@' and ':' are legal in a path) alike.
    for spelling in (ENCODED, "a%40b%3ac", USER):
        status, _, body = API.server.json("GET", "/v1/users/" + spelling, headers=agent)
        check(status == 200 and body["id"] == USER and body["email"] == EMAIL, "GET %s: %d %r" % (spelling, status, body))
    check(USER in user_ids(), "listing lacks %r" % USER)
    # A second PUT with the other hex case updates the same user: one id, however it is spelled.
    status, _, body = put("a%40b%3ac", "at-colon-2@example.com")
    check(status == 200 and body["id"] == USER, "update via lower-case escapes: %d %r" % (status, body))
    actions = [e["action"] for e in entries_for(API, USER) if e["action"] in ("user.create", "user.update")]
    check(actions == ["user.create", "user.update"], "audit trail of %s: %r" % (USER, actions))


def test_phone_token_and_verify_for_the_decoded_id():
    status, _, _ = put(ENCODED, "at-colon-3@example.com")
    check(status in (200, 201), "PUT: %d" % status)
    token = API.phone_token(USER)  # a customer token whose sub is the decoded id
    check(token["token"] == phone_token_at(API.data_dir, USER, token["step"]), "token is not derived from %r" % USER)
    check(API.verify_ok({"user": USER, "code": token["token"]}) == valid(USER), "verify of the phone token")
    outcomes = [e["outcome"] for e in entries_for(API, USER, "verify")]
    check(outcomes == ["valid"], "verify audit outcomes %r" % outcomes)


def test_bad_escapes_nul_and_slash_are_400_and_write_nothing():
    before = API.count()
    ids = user_ids()
    for segment, detail in (("%zz", "bad percent escape"), ("ab%4", "bad percent escape"), ("a%00b", "NUL"),
                            ("a%2Fb", "'/'"), ("a%2fb", "'/'")):
        for method in ("PUT", "GET", "DELETE"):
            body = json.dumps({"email": "x@example.com", "phone_support": True}) if method == "PUT" else None
            doc = check_problem(*API.server.request(method, "/v1/users/" + segment, body, json_headers(API.admin)),
                                400, "path segment 'id'")
            check(detail in doc["detail"], "%s %s: detail %r lacks %r" % (method, segment, doc["detail"], detail))
    # Decoded once: "%2540" is "%40", which the id rules refuse; decoded twice it would be '@'.
    check_problem(*API.server.request("PUT", "/v1/users/x%2540y", json.dumps({"email": "y@example.com",
                                                                            "phone_support": True}),
                                      json_headers(API.admin)), 400, "user id")
    check(API.count() == before, "a refused path wrote %d audit entries" % (API.count() - before))
    check(user_ids() == ids, "a refused id was stored: %r" % user_ids())


def test_delete_by_encoded_id():
    status, _, _ = put(ENCODED, "at-colon-4@example.com")
    check(status in (200, 201), "PUT: %d" % status)
    status, _, raw = API.server.request("DELETE", "/v1/users/" + ENCODED, headers=bearer(API.admin))
    check(status == 204, "DELETE %s: %d %r" % (ENCODED, status, raw))
    check_problem(*API.server.request("GET", "/v1/users/" + USER, headers=bearer(API.admin)), 404)


def test_other_path_parameters_are_decoded_too():
    # /static/{file}: "%2E" is '.', so this is common.js; an escaped '/' is refused before any file.
    web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
    pages = Server(ARGS.callsignd, "[server]\nweb_root = %s\n" % json.dumps(web))
    try:
        status, headers, body = pages.request("GET", "/static/common%2Ejs")
        check(status == 200 and headers.get("content-type", "").startswith("text/javascript"), "static: %d" % status)
        with open(os.path.join(web, "static", "common.js"), "rb") as f:
            check(body == f.read(), "static: not common.js")
        check_problem(*pages.request("GET", "/static/..%2Fadmin.html"), 400, "'/'")
    finally:
        pages.cleanup()
    # /v1/admin/lists/{name}/reload: an escaped name reaches the handler as the list it names.
    admin = bearer(API.admin)
    plain = API.server.request("POST", "/v1/admin/lists/open_proxies/reload", headers=admin)
    escaped = API.server.request("POST", "/v1/admin/lists/open%5Fproxies/reload", headers=admin)
    # (No list file in this data dir: both answer that open_proxies' file is missing, an unknown
    # name would be "no such list".)
    check(plain[0] == escaped[0] and plain[2] == escaped[2] and b'"open_proxies: ' in escaped[2],
          "reload answers: plain %r, escaped %r" % (plain, escaped))
    check_problem(*API.server.request("POST", "/v1/admin/lists/%zz/reload", headers=admin), 400, "path segment 'name'")
    # The streamed upload route resolves through the same router, from the header alone.
    check_problem(*API.server.request("PUT", "/v1/admin/lists/%zz", b"1.2.3.4\n", admin), 400, "path segment 'name'")


CASES = [
    ("put_encoded_id_reads_back_decoded", test_put_encoded_id_reads_back_decoded),
    ("phone_token_and_verify_for_the_decoded_id", test_phone_token_and_verify_for_the_decoded_id),
    ("bad_escapes_nul_and_slash_are_400_and_write_nothing", test_bad_escapes_nul_and_slash_are_400_and_write_nothing),
    ("delete_by_encoded_id", test_delete_by_encoded_id),
    ("other_path_parameters_are_decoded_too", test_other_path_parameters_are_decoded_too),
]


if __name__ == "__main__":
    sys.exit(run_suite(ARGS, CASES, globals()))
