"""Integration (issue 18, docs/audit.md "Several nodes"): three callsignd nodes on Redis. One
user verifies through nodes A, B and C; GET /v1/me/audit on node A (the dashboard's recent
verifications) and GET /v1/audit?user= on node C both show the entries of all three nodes, each
naming its node, exactly the union of the three journals' entries about the user (read with
`callsign audit export`); paging with cursor/next_cursor returns every entry once; bad cursors
and the one-node paging parameters are 400 problem+json. With [audit] retention_seconds the view's
copies age out as the journal's entries do."""
import json
import subprocess
import sys
import urllib.parse

from cluster_harness import Cluster, wait_for
from harness import check, parse_args, phone_token_at, run_cases, wait_for_step_start

ARGS, _ = parse_args()
PERIOD = 2
CONFIG = """
[phone_token]
period = %d

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000
""" % PERIOD
USER = "audit-view-user"


def journal_entries(node, user):
    """The node's own journal entries about `user` (a read-only secondary: works while it runs)."""
    out = subprocess.run([ARGS.callsign, "audit", "export", "--data-dir", node.data_dir], capture_output=True,
                         text=True, timeout=120)
    check(out.returncode == 0, "audit export %s: %s" % (node.name, out.stderr))
    return [json.loads(line) for line in out.stdout.splitlines() if json.loads(line).get("subject") == user]


def key(entry):
    return (entry["node"], entry["seq"], entry["hash"])


def pages(node, path, token, limit):
    """Every entry of a cursor-paged listing, and the number of pages."""
    entries, cursor, count = [], None, 0
    while True:
        query = "limit=%d" % limit + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        status, _, body = node.json("GET", path + ("&" if "?" in path else "?") + query, token=token)
        check(status == 200, "GET %s page %d: %d %r" % (path, count, status, body))
        check(set(body) == {"entries", "next_cursor"}, "page members: %r" % sorted(body))
        entries += body["entries"]
        count += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return entries, count
        check(count < 100, "paging does not end")


def check_problem(node, path, token, word):
    status, headers, raw = node.server.request("GET", path, headers={"Authorization": "Bearer " + token})
    check(status == 400 and headers.get("content-type", "").startswith("application/problem+json"),
          "GET %s: %d %s" % (path, status, headers.get("content-type")))
    check(word in json.loads(raw).get("detail", ""), "GET %s names %r: %s" % (path, word, raw[:300]))


def test_one_users_verifies_on_three_nodes_show_on_every_node():
    cluster = Cluster(ARGS, nodes=3, config=CONFIG)
    try:
        a, b, c = cluster.nodes
        cluster.put_user(a, USER)
        customer = cluster.token("customer", USER)
        # One accepted code and two refused ones through each node, in the order A, B, C.
        for i, node in enumerate(cluster.nodes):
            step = wait_for_step_start(PERIOD)
            agent = cluster.token("agent", "agent-%d" % i)
            for code in (phone_token_at(a.data_dir, USER, step + 1000), phone_token_at(a.data_dir, USER, step),
                         phone_token_at(a.data_dir, USER, step + 2000)):
                status, _, body = node.json("POST", "/v1/verify", {"user": USER, "code": code}, agent)
                check(status == 200, "verify on %s: %d %r" % (node.name, status, body))

        journals = {n.name: journal_entries(n, USER) for n in cluster.nodes}
        for name, entries in journals.items():
            check(len([e for e in entries if e["action"] == "verify"]) == 3, "3 verifies in %s's journal" % name)
        every = {key(e) for entries in journals.values() for e in entries}
        check(len(every) >= 10, "the user's upsert and 9 verifies over three journals: %d entries" % len(every))

        # The copies follow the replies (fire-and-forget): wait until node A's view holds them all.
        def mine():
            status, _, body = a.json("GET", "/v1/me/audit?limit=200", token=customer)
            check(status == 200, "GET /v1/me/audit on node A: %d %r" % (status, body))
            return body if len(body["entries"]) == len(every) else None

        body = wait_for(mine, 10, "node A's GET /v1/me/audit showing every node's entries")
        shown = body["entries"]
        check(body["next_cursor"] is None, "one page: %r" % body["next_cursor"])
        check({key(e) for e in shown} == every, "node A shows exactly the three journals' entries")
        check(all(e["node"] in ("node-a", "node-b", "node-c") and e["subject"] == USER for e in shown),
              "every entry names its node")
        # Newest first: the accepted verifies (what the dashboard lists) came through C, B, A.
        valid = [e for e in shown if e["action"] == "verify" and e["outcome"] == "valid"]
        check([e["node"] for e in valid] == ["node-c", "node-b", "node-a"], "newest first: %r" % valid)
        check([e["actor_id"] for e in valid] == ["agent-2", "agent-1", "agent-0"], "agents: %r" % valid)
        check(all(e["details"].get("method") == "phone_token" and e["time"] > 0 for e in valid),
              "what the dashboard shows: %r" % valid)

        # The admin's per-user view on node C: the same entries, oldest first.
        status, _, admin_view = c.json("GET", "/v1/audit?user=%s&limit=500" % USER, token=cluster.admin)
        check(status == 200 and admin_view["next_cursor"] is None, "GET /v1/audit?user= on C: %d %r" % (status, admin_view))
        check([key(e) for e in admin_view["entries"]] == [key(e) for e in reversed(shown)],
              "node C's admin view is node A's, oldest first")

        # Paging across nodes returns every entry once, in the same order as one page.
        for node, path, limit, token, want in ((b, "/v1/me/audit", 3, customer, shown),
                                               (c, "/v1/audit?user=" + USER, 4, cluster.admin, admin_view["entries"]),
                                               (a, "/v1/me/audit", 1, customer, shown)):
            paged, count = pages(node, path, token, limit)
            check([key(e) for e in paged] == [key(e) for e in want],
                  "%s %s limit %d: every entry once, in order" % (node.name, path, limit))
            check(count >= len(want) // limit, "%d pages" % count)

        # Bad input: a clear 400, never a Redis error.
        check_problem(a, "/v1/me/audit?cursor=1-0%0D%0AFLUSHALL", customer, "cursor")
        check_problem(a, "/v1/me/audit?before=5", customer, "cursor")
        check_problem(c, "/v1/audit?user=%s&after=3" % USER, cluster.admin, "cursor")
        check_problem(c, "/v1/audit?user=%s&cursor=%%2B" % USER, cluster.admin, "cursor")
        # The whole journal (no user) stays this node's own, paged by seq as on one node.
        status, _, local = b.json("GET", "/v1/audit?limit=500", token=cluster.admin)
        check(status == 200 and "next_after" in local and all(e["node"] == "node-b" for e in local["entries"]),
              "GET /v1/audit without user on node B: its own journal")
    finally:
        cluster.cleanup()


def test_retention_ages_the_view_out_with_the_journal():
    """[audit] retention_seconds: the Redis copies expire with the journal's entries, so a pruned
    entry does not live on in the cross-node view."""
    cluster = Cluster(ARGS, nodes=2, config=CONFIG + "\n[audit]\ncheckpoint_interval_seconds = 1\nretention_seconds = 3\n")
    try:
        a, b = cluster.nodes
        cluster.put_user(a, "aging-user")
        step = wait_for_step_start(PERIOD)
        status, _, body = a.json("POST", "/v1/verify", {"user": "aging-user",
                                                        "code": phone_token_at(a.data_dir, "aging-user", step)},
                                 cluster.token("agent", "agent-1"))
        check(status == 200 and body["valid"] is True, "verify: %d %r" % (status, body))

        def view():
            status, _, page = b.json("GET", "/v1/audit?user=aging-user&limit=100", token=cluster.admin)
            check(status == 200, "the view: %d %r" % (status, page))
            return page["entries"]

        wait_for(lambda: any(e["action"] == "verify" for e in view()), 5, "the verify in node B's view")
        # Nothing newer about the user: the whole stream expires once the retention has passed.
        wait_for(lambda: view() == [], 15, "the view emptied after the retention", interval=0.5)
        wait_for(lambda: journal_entries(a, "aging-user") == [], 15, "node A's journal pruning the user's entries",
                 interval=0.5)
    finally:
        cluster.cleanup()


CASES = [("one_users_verifies_on_three_nodes_show_on_every_node", test_one_users_verifies_on_three_nodes_show_on_every_node),
         ("retention_ages_the_view_out_with_the_journal", test_retention_ages_the_view_out_with_the_journal)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
