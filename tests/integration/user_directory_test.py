"""Integration: the user directory (issue 17) against the real callsignd. GET /v1/users/{id}
(audited like the email lookup), the paged GET /v1/users listing (250 users in pages of 100,
each seen exactly once in id order), DELETE /v1/users/{id} (the record, its email and its
authenticator go; the replay marks and the audit journal stay, so a re-created id cannot replay
an old code, also after a restart), and the role refusals, which write nothing. Phone tokens
use a 3-second period on the shared server, and the in-process replay case first waits until
just after a step boundary (harness.wait_for_step_start); the restart case runs its own server
with a 10-second period, so the code stays inside its window across the restart."""
import random
import sys

from harness import bearer, check, check_problem, current_step, parse_args, wait_for_step_start
from verify_api import PERIOD, Api, entries_for, invalid, run_suite, valid

ARGS, _ = parse_args()
API = None  # the shared server of most cases, started by run_suite


def get_user(api, user_id, token=None):
    return api.server.json("GET", "/v1/users/" + user_id, headers=bearer(token or api.token("agent", "agent-dir")))


def delete_user(api, user_id, token=None):
    return api.server.request("DELETE", "/v1/users/" + user_id, headers=bearer(token or api.admin))


def list_all(api, limit):
    """Every page of GET /v1/users?limit=; returns the pages' id lists."""
    pages = []
    after = None
    while True:
        path = "/v1/users?limit=%d" % limit + ("" if after is None else "&after=" + after)
        status, headers, body = api.server.json("GET", path, headers=bearer(api.admin))
        check(status == 200 and headers.get("content-type") == "application/json",
              "GET %s: %d %r" % (path, status, body))
        check(set(body) == {"users", "next_after"}, "page keys %r" % sorted(body))
        pages.append([u["id"] for u in body["users"]])
        if body["next_after"] is None:
            return pages, body
        check(body["next_after"] == pages[-1][-1], "next_after %r is not the page's last id" % body["next_after"])
        after = body["next_after"]


def test_get_one_by_id():
    api = API
    created = api.put_user("dir-get", "dir-get@example.com")
    before = api.count()
    status, headers, body = get_user(api, "dir-get")
    check(status == 200 and headers.get("content-type") == "application/json", "GET: %d %r" % (status, body))
    check(body == created, "GET %r differs from the PUT reply %r" % (body, created))
    status, _, body = get_user(api, "dir-get", api.admin)
    check(status == 200 and body["id"] == "dir-get", "admin GET: %d %r" % (status, body))
    check_problem(*api.server.request("GET", "/v1/users/dir-nobody", headers=bearer(api.token("agent", "agent-dir"))),
                  404)
    entries = api.audit()[before:]
    check([(e["action"], e["subject"], e["outcome"], e["actor_type"]) for e in entries] ==
          [("user.lookup", "dir-get", "found", "agent"), ("user.lookup", "dir-get", "found", "admin"),
           ("user.lookup", "dir-nobody", "not_found", "agent")], "lookup audit %r" % entries)
    check(all(e["details"].get("by") == "id" for e in entries), "details %r" % [e["details"] for e in entries])
    before = api.count()
    check_problem(*api.server.request("GET", "/v1/users/" + "x" * 129, headers=bearer(api.admin)), 400, "user id")
    check(api.count() == before, "a rejected id wrote an audit entry")


def test_paging_sees_each_user_once_in_id_order():
    api = Api(ARGS)  # its own server, so the directory holds exactly these users
    try:
        ids = ["page-%03d" % i for i in range(247)] + ["A-first", "z@last:1", "page-0:9"]
        random.Random(17).shuffle(ids)  # creation order is not id order
        for user_id in ids:
            api.put_user(user_id, user_id.replace("@", ".").replace(":", ".") + "@example.com")
        before = api.count()
        pages, last = list_all(api, 100)
        check([len(p) for p in pages] == [100, 100, 50], "page sizes %r" % [len(p) for p in pages])
        seen = [i for p in pages for i in p]
        check(seen == sorted(ids), "listing is not every id once in byte order: %r" % seen[:5])
        check(last["users"][-1]["email"] == "z.last.1@example.com" and "authenticator" in last["users"][-1],
              "user shape %r" % last["users"][-1])
        # A page that ends exactly at the last user says so: no empty page follows.
        pages, _ = list_all(api, 125)
        check([len(p) for p in pages] == [125, 125], "exact pages %r" % [len(p) for p in pages])
        # The default page is 100.
        status, _, body = api.server.json("GET", "/v1/users", headers=bearer(api.admin))
        check(status == 200 and len(body["users"]) == 100 and body["next_after"] == sorted(ids)[99],
              "default page: %d %r" % (status, body.get("next_after")))
        # A cursor that names no user still continues after it.
        status, _, body = api.server.json("GET", "/v1/users?after=page-050x&limit=2", headers=bearer(api.admin))
        check(status == 200 and [u["id"] for u in body["users"]] == ["page-051", "page-052"], "cursor %r" % body)
        check(api.count() == before, "listing wrote audit entries")
        for query, detail in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
                              ("after=bad%20id", "after"), ("limit=5&limit=6", "more than once"),
                              ("after=a&after=b", "more than once"), ("page=2", "unknown query parameter"),
                              ("email=a@example.com&limit=5", "unknown query parameter 'limit'")):
            check_problem(*api.server.request("GET", "/v1/users?" + query, headers=bearer(api.admin)), 400, detail)
        check(api.count() == before, "rejected listings wrote audit entries")
        # Percent-encoded ids (as the admin page sends them) name the same user, in the path and
        # in the cursor.
        status, _, body = api.server.json("GET", "/v1/users/z%40last%3A1", headers=bearer(api.admin))
        check(status == 200 and body["id"] == "z@last:1", "encoded GET: %d %r" % (status, body))
        status, _, body = api.server.json("GET", "/v1/users?after=page-246&limit=5", headers=bearer(api.admin))
        check(status == 200 and [u["id"] for u in body["users"]] == ["z@last:1"], "after page-246: %r" % body)
        status, _, raw = delete_user(api, "z%40last%3A1")
        check(status == 204, "encoded DELETE: %d %r" % (status, raw))
        status, _, body = api.server.json("GET", "/v1/users?after=page-0%3A9&limit=1", headers=bearer(api.admin))
        # ':' sorts after '9', so page-0:9 comes after page-099.
        check(status == 200 and [u["id"] for u in body["users"]] == ["page-100"], "encoded cursor: %r" % body)
        pages, _ = list_all(api, 1000)
        check(pages == [sorted(i for i in ids if i != "z@last:1")], "after the encoded DELETE %r" % pages[0][-3:])
    finally:
        api.close()


def test_delete_keeps_replay_marks_and_frees_the_email():
    api = API
    api.put_user("dir-del", "dir-del@example.com")
    customer = bearer(api.token("customer", "dir-del"))
    status, _, raw = api.server.request("POST", "/v1/me/authenticator", headers=customer)
    check(status == 201, "enroll: %d %r" % (status, raw))
    check(get_user(api, "dir-del")[2]["authenticator"] == "pending", "enrollment not pending")
    wait_for_step_start(PERIOD)
    code = api.phone_token("dir-del")["token"]
    check(api.verify_ok({"user": "dir-del", "code": code}) == valid("dir-del"), "code refused before the delete")

    status, headers, raw = delete_user(api, "dir-del")
    check(status == 204 and raw == b"" and "content-type" not in headers, "DELETE: %d %r %r" % (status, headers, raw))
    # Durable before the reply: the entry is in the journal as soon as the 204 arrives.
    gone = entries_for(api, "dir-del", "user.delete")
    check(len(gone) == 1 and gone[0]["outcome"] == "ok" and gone[0]["actor_type"] == "admin" and
          gone[0]["actor_id"] == "ops-1", "delete audit %r" % gone)
    check_problem(*api.server.request("GET", "/v1/users/dir-del", headers=bearer(api.admin)), 404)
    check_problem(*delete_user(api, "dir-del"), 404, "no user")
    check_problem(*api.server.request("GET", "/v1/users?email=dir-del@example.com",
                                      headers=bearer(api.token("agent", "agent-dir"))), 404)
    check(api.verify_ok({"user": "dir-del", "code": code}) == invalid(), "a deleted user verified")

    # The email is free for someone else; the id can be created again, without the enrollment.
    api.put_user("dir-taker", "dir-del@example.com", expect=201)
    api.put_user("dir-del", "dir-del-2@example.com", expect=201)
    status, _, body = get_user(api, "dir-del")
    check(status == 200 and body["email"] == "dir-del-2@example.com" and body["authenticator"] == "none",
          "re-created user %d %r" % (status, body))
    # The old code stays used: the replay mark outlived the user.
    check(api.verify_ok({"user": "dir-del", "code": code}) == invalid(), "a re-created id replayed an old code")
    outcomes = [e["outcome"] for e in entries_for(api, "dir-del", "verify")]
    check(outcomes == ["valid", "unknown_user", "replayed"], "verify outcomes %r" % outcomes)
    # The journal keeps the deleted user's history.
    actions = [e["action"] for e in entries_for(api, "dir-del")]
    check(actions[:2] == ["user.create", "authenticator.enroll"] and "user.delete" in actions,
          "trail after the delete %r" % actions)


def test_replay_refused_after_delete_and_restart():
    """The marks are durable, not only in memory: delete, restart, re-create, replay refused."""
    period = 10  # room for a restart inside the acceptance window (current + previous step)
    config = "[phone_token]\nperiod = %d\n" % period
    first = Api(ARGS, config)
    second = None
    try:
        first.put_user("dir-restart", "dir-restart@example.com")
        step = current_step(period)
        token = first.phone_token("dir-restart")
        check(first.verify_ok({"user": "dir-restart", "code": token["token"]}) == valid("dir-restart"),
              "first use refused")
        status, _, raw = delete_user(first, "dir-restart")
        check(status == 204, "DELETE: %d %r" % (status, raw))
        check(first.server.stop() == 0, "callsignd did not exit 0 on SIGTERM")
        second = Api(ARGS, config, data_dir=first.data_dir)
        second._tokens = dict(first._tokens)  # the HS256 key survives restarts
        check(get_user(second, "dir-restart", second.admin)[0] == 404, "the delete did not survive the restart")
        second.put_user("dir-restart", "dir-restart@example.com", expect=201)
        again = second.verify_ok({"user": "dir-restart", "code": token["token"]})
        check(current_step(period) <= step + 1, "restart took too long: the code left the window")
        check(again == invalid(), "a re-created id replayed an old code after a restart")
        outcomes = [e["outcome"] for e in entries_for(second, "dir-restart", "verify")]
        check(outcomes == ["valid", "replayed"], "verify outcomes across the restart %r" % outcomes)
    finally:
        if second is not None:
            second.server.cleanup()
        first.close()


def test_role_refusals_write_nothing():
    api = API
    api.put_user("dir-keep", "dir-keep@example.com")
    before = api.count()
    for role, sub in (("customer", "dir-keep"), ("agent", "agent-dir"), ("service", "svc-dir")):
        token = api.token(role, sub)
        check_problem(*delete_user(api, "dir-keep", token), 403)
        check_problem(*api.server.request("GET", "/v1/users?limit=5", headers=bearer(token)), 403)
    for role, sub in (("customer", "dir-keep"), ("service", "svc-dir")):
        check_problem(*api.server.request("GET", "/v1/users/dir-keep", headers=bearer(api.token(role, sub))), 403)
    check_problem(*delete_user(api, "dir-keep", "not.a.jwt"), 401)
    check_problem(*api.server.request("GET", "/v1/users/dir-keep"), 401)
    check(api.count() == before, "refusals wrote audit entries")
    check(get_user(api, "dir-keep", api.admin)[0] == 200, "a refused DELETE removed the user")


CASES = [
    ("get_one_by_id", test_get_one_by_id),
    ("paging_sees_each_user_once_in_id_order", test_paging_sees_each_user_once_in_id_order),
    ("delete_keeps_replay_marks_and_frees_the_email", test_delete_keeps_replay_marks_and_frees_the_email),
    ("replay_refused_after_delete_and_restart", test_replay_refused_after_delete_and_restart),
    ("role_refusals_write_nothing", test_role_refusals_write_nothing),
]

if __name__ == "__main__":
    sys.exit(run_suite(ARGS, CASES, globals()))
