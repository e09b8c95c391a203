"""Integration: admins racing on the user directory (issue 17) against the real callsignd. Two
admins move two users to one email at the same moment, 20 times: exactly one PUT wins (200),
the other is a 409 problem that wrote nothing, the email lookup names the winner, and the loser
keeps its own email. Many PUTs of one user at once all answer 200 or 409 (never 5xx), and the
stored user is one of the written ones with its version-counted audit trail intact."""
import json
import sys
import threading

from harness import bearer, check, check_problem, json_headers, parse_args, run_cases
from verify_api import Api

ARGS, _ = parse_args()


def put(api, user_id, email):
    return api.server.request("PUT", "/v1/users/" + user_id, json.dumps({"email": email, "phone_support": True}),
                              json_headers(api.admin))


def at_once(calls):
    """Runs every call on its own thread, released together; returns their results in order."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i):
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def lookup(api, email):
    return api.server.json("GET", "/v1/users?email=" + email, headers=bearer(api.admin))


def test_two_admins_one_email():
    api = Api(ARGS)
    try:
        for i in range(20):
            a, b, target = "race-a%d" % i, "race-b%d" % i, "race-target%d@example.com" % i
            api.put_user(a, a + "@example.com")
            api.put_user(b, b + "@example.com")
            results = at_once([lambda: put(api, a, target), lambda: put(api, b, target)])
            statuses = [r[0] for r in results]
            check(sorted(statuses) == [200, 409], "round %d: statuses %r" % (i, statuses))
            winner, loser = (a, b) if statuses[0] == 200 else (b, a)
            check_problem(*results[statuses.index(409)], 409)
            status, _, body = lookup(api, target)
            check(status == 200 and body["id"] == winner, "round %d: %s names %r" % (i, target, body))
            status, _, body = api.server.json("GET", "/v1/users/" + loser, headers=bearer(api.admin))
            check(status == 200 and body["email"] == loser + "@example.com", "round %d: loser %r" % (i, body))
            status, _, body = lookup(api, loser + "@example.com")
            check(status == 200 and body["id"] == loser, "round %d: loser's email names %r" % (i, body))
            check_problem(*api.server.request("GET", "/v1/users?email=%s@example.com" % winner,
                                              headers=bearer(api.admin)), 404)
    finally:
        api.close()


def test_many_writes_to_one_user():
    api = Api(ARGS)
    try:
        api.put_user("race-one", "race-one@example.com")
        before = api.count()
        emails = ["race-one-%d@example.com" % i for i in range(8)]
        results = at_once([lambda e=e: put(api, "race-one", e) for e in emails])
        statuses = [r[0] for r in results]
        check(all(s in (200, 409) for s in statuses) and 200 in statuses, "statuses %r" % statuses)
        status, _, body = api.server.json("GET", "/v1/users/race-one", headers=bearer(api.admin))
        check(status == 200 and body["email"] in emails, "stored %r" % body)
        won = statuses.count(200)
        updates = [e for e in api.audit()[before:] if e["action"] == "user.update" and e["subject"] == "race-one"]
        check(len(updates) == won, "%d updates audited for %d wins" % (len(updates), won))
        # Only the last winner's email is indexed.
        for e in emails:
            status, _, found = lookup(api, e)
            check((status == 200) == (e == body["email"]), "%s: %d %r" % (e, status, found))
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(run_cases([("two admins, one email", test_two_admins_one_email),
                        ("many writes to one user", test_many_writes_to_one_user)]))
