"""Integration: GET /v1/admin/blocks searched by address, username and key text (the admin
console's Blocks panel, docs/admin-console.md), with the real callsignd. A username is hashed the
way the limiter hashes it, so the search finds its block whatever its case and spaces, and the
username never reaches the log or the audit journal. Bad search parameters are 400 problems."""
import json
import urllib.parse

from harness import Node, audit_entries, bearer, check, check_problem, json_headers, parse_args, run_cases

ARGS, _ = parse_args()
CONFIG = '[login]\ntrusted_proxies = ["127.0.0.1"]\n'
USERNAME = "Carol.Searched@Example.ORG"


def fail(node, ip, username):
    status, _, body = node.server.json("POST", "/v1/login/result",
                                       json.dumps({"ip": ip, "username": username, "success": False}),
                                       json_headers(node.token("service", "login-frontend")))
    check(status == 200, "login/result: %d %r" % (status, body))


def search(node, **params):
    status, headers, body = node.server.request("GET", "/v1/admin/blocks?" + urllib.parse.urlencode(params),
                                                headers=bearer(node.token("admin", "ops-1")))
    return status, headers, body


def keys(node, **params):
    status, _, body = search(node, **params)
    check(status == 200, "search %r: %d %r" % (params, status, body))
    return sorted(b["key"] for b in json.loads(body)["blocks"])


def test_search_by_ip_username_and_key():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
    try:
        for _ in range(5):
            fail(node, "203.0.113.60", USERNAME)  # blocks the address and the username
        for i in range(5):
            fail(node, "198.51.100.61", "other-%d" % i)  # blocks this address only
        for i in range(5):
            fail(node, "2001:db8:5:6::%x" % (i + 1), "v6-%d" % i)  # one /64
        every = keys(node)
        user_keys = [k for k in every if k.startswith("user:")]
        check(len(every) == 4 and len(user_keys) == 1, "blocks in force: %r" % every)
        check(keys(node, ip="203.0.113.60") == ["203.0.113.60"], "by ip")
        check(keys(node, ip="2001:db8:5:6::99") == ["2001:db8:5:6::/64"], "an IPv6 address finds its /64")
        check(keys(node, ip="192.0.2.1") == [], "an address without a block")
        check(keys(node, username="  carol.searched@example.org ") == user_keys, "by username, any case and spaces")
        check(keys(node, username="someone-else") == [], "another username")
        check(keys(node, key="113.60") == ["203.0.113.60"], "by a part of the key")
        check(keys(node, ip="203.0.113.60", key="198.51") == [], "every given part must match")
        check(keys(node, ip="", username="", key="") == every, "empty parameters are ignored")
        # A page, in key order: the first `limit` of the matches, with the total.
        status, _, body = search(node, limit="2")
        page = json.loads(body)
        check(status == 200 and [b["key"] for b in page["blocks"]] == every[:2] and page["total"] == 4 and
              page["truncated"] is True, "limit=2: %r" % page)
        page = json.loads(search(node)[2])
        check(page["total"] == 4 and page["truncated"] is False, "no limit: %r" % page)
        for params, detail in (({"ip": "203.0.113"}, "'ip'"), ({"user": "x"}, "user"),
                               ({"username": "x" * 300}, "'username'"), ({"key": "k" * 600}, "'key'"),
                               ({"limit": "0"}, "'limit'"), ({"limit": "10001"}, "'limit'")):
            status, headers, body = search(node, **params)
            check_problem(status, headers, body, 400, detail)
        # The found key lifts the block (audited as login.unblock).
        status, _, body = node.server.json("DELETE", "/v1/admin/blocks/" + urllib.parse.quote(user_keys[0], safe=""),
                                           headers=bearer(node.token("admin", "ops-1")))
        check(status == 200 and body["lifted"]["key"] == user_keys[0], "lift: %d %r" % (status, body))
        check(keys(node, username=USERNAME) == [], "lifted")
        entries = audit_entries(node.server, node.token("admin", "ops-1"))
        check(any(e["action"] == "login.unblock" and e["details"].get("key") == user_keys[0] for e in entries),
              "the lift is audited")
        text = (json.dumps(entries) + "\n".join(node.server.lines)).lower()
        check("carol" not in text, "the searched username appears in the audit journal or the log")
    finally:
        node.server.cleanup()


def test_only_admins_search():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
    try:
        for role in ("service", "agent", "customer"):
            status, headers, body = node.server.request("GET", "/v1/admin/blocks?username=x",
                                                        headers=bearer(node.token(role, "someone")))
            check_problem(status, headers, body, 403)
    finally:
        node.server.cleanup()


if __name__ == "__main__":
    raise SystemExit(run_cases([
        ("search by ip, username and key; the found block lifts", test_search_by_ip_username_and_key),
        ("only admins search", test_only_admins_search),
    ]))
