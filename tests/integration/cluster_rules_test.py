"""Integration (issue 19, docs/cluster.md "Rules"): three callsignd nodes on Redis with two
replicas and three Sentinels. A PUT /v1/admin/rules on node A decides POST /v1/login/check on
nodes B and C within 2 s, and GET /v1/admin/rules on every node shows all three at the new
SHA-256 and cluster revision; a shadow toggle on node B reaches A and C; a rule file that does
not compile, PUT on node A, changes nothing anywhere; a node stopped during a change and started
on its old file adopts the cluster's before it serves, journaled with trigger "start"; twelve racing
PUTs on three nodes end with every node at revision 12, which the nodes store again when Redis
is found holding an older one (as a failover can leave it). With Redis
away a PUT is refused with 503 and changes nothing, and succeeds once Redis is back."""
import hashlib
import os
import json
import signal
import sys
import threading
import time

from cluster_harness import Cluster, journal_entries, wait_for
from harness import audit_entries, bearer, check, check_problem, parse_args, run_cases

ARGS, _ = parse_args()
PROPAGATION_BOUND = 2.0  # seconds from the PUT's reply, the bound

BLOCK_NET = '''[[rule]]
id = "net-block"
expression = "ip.src in {198.51.100.0/24}"
action = "block"
'''
CHALLENGE_NET = '''[[rule]]
id = "net-challenge"
expression = "ip.src in {198.51.100.0/24}"
action = "challenge"
'''
BAD = '''[[rule]]
id = "broken"
expression = "ip.src in {198.51.100.0/24"
action = "block"
'''
PROBE_IP = "198.51.100.4"


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def put_rules(cluster, node, text):
    status, headers, raw = node.server.request("PUT", "/v1/admin/rules", text,
                                               bearer(cluster.admin, {"Content-Type": "application/toml"}))
    return status, headers, raw


def rules_on(cluster, node):
    status, _, body = node.json("GET", "/v1/admin/rules", token=cluster.admin)
    check(status == 200, "GET /v1/admin/rules on %s: %d %r" % (node.name, status, body))
    return body


def action_on(cluster, node):
    status, _, body = node.json("POST", "/v1/login/check", {"ip": PROBE_IP},
                                token=cluster.token("service", "login-frontend"))
    check(status == 200, "login/check on %s: %d %r" % (node.name, status, body))
    return body["decision"]["action"]


def view(cluster, node):
    """{node name: (sha256, revision)} as `node` reports every node."""
    body = rules_on(cluster, node)
    check("nodes" in body, "shared mode lists every node on %s: %r" % (node.name, body))
    return {n["node"]: (n["sha256"], n["revision"]) for n in body["nodes"]}


def everywhere(cluster, nodes, want_sha, want_action, since, bound, what):
    """Waits until every node decides `want_action` and reports every node at `want_sha`;
    returns the seconds from `since`."""
    def agreed():
        for node in nodes:
            if action_on(cluster, node) != want_action:
                return False
            seen = view(cluster, node)
            if set(seen) != {n.name for n in nodes} or {s for s, _ in seen.values()} != {want_sha}:
                return False
            if len({r for _, r in seen.values()}) != 1:
                return False
        return True

    wait_for(agreed, bound - (time.time() - since), what, interval=0.05)
    return time.time() - since


def write_file(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def cluster_entries(node, admin):
    return [e for e in audit_entries(node.server, admin)
            if e["action"] == "rules.replace" and e["actor_id"] == "cluster"]


def detail(entry, key):
    return (entry.get("details") or {}).get(key)


def test_a_change_on_one_node_serves_on_every_node():
    cluster = Cluster(ARGS, nodes=3)
    try:
        a, b, c = cluster.nodes
        for node in cluster.nodes:
            check(action_on(cluster, node) == "allow", "no rules yet on %s" % node.name)

        # A PUT on node A decides on B and C within 2 s.
        status, _, raw = put_rules(cluster, a, BLOCK_NET)
        replied = time.time()
        check(status == 200 and json.loads(raw)["changed"] is True, "PUT on node A: %d %r" % (status, raw))
        took = everywhere(cluster, cluster.nodes, sha(BLOCK_NET), "block", replied, PROPAGATION_BOUND,
                          "node A's rules serving on every node")
        print("  PUT on A serving on B and C after %.3f s" % took)
        first_revision = rules_on(cluster, b)["cluster_revision"]
        check(first_revision >= 1 and view(cluster, c)["node-a"][1] == first_revision,
              "the revision is the cluster's: %r" % rules_on(cluster, c))
        for node in (b, c):
            entries = cluster_entries(node, cluster.admin)
            check(len(entries) == 1 and entries[0]["outcome"] == "installed"
                  and entries[0]["actor_type"] == "admin" and detail(entries[0], "trigger") == "cluster",
                  "%s journaled node A's change as admin/cluster: %r" % (node.name, entries))
            with open(node.data_dir + "/rules.toml") as f:
                check(f.read() == BLOCK_NET, "%s wrote the text to its own file, so a restart loads it" % node.name)
        check(cluster_entries(a, cluster.admin) == [], "node A journaled its own PUT only as the admin's")

        # A shadow toggle on node B reaches A and C.
        status, _, body = b.json("POST", "/v1/admin/rules/net-block/shadow", {"shadow": True}, token=cluster.admin)
        replied = time.time()
        check(status == 200 and body["changed"] is True, "shadow on node B: %d %r" % (status, body))
        shadowed = rules_on(cluster, b)
        check(shadowed["rules"][0]["shadow"] is True, "node B's rule is in shadow mode: %r" % shadowed["rules"])
        everywhere(cluster, cluster.nodes, shadowed["sha256"], "allow", replied, PROPAGATION_BOUND,
                   "node B's shadow toggle on every node")
        for node in (a, c):
            check(rules_on(cluster, node)["rules"][0]["shadow"] is True, "%s serves the rule in shadow" % node.name)
        shadow_revision = rules_on(cluster, a)["cluster_revision"]
        check(shadow_revision == first_revision + 1, "the toggle took the next revision: %d" % shadow_revision)

        # A rule file that does not compile, on node A: 422 there, nothing changes anywhere.
        status, headers, raw = put_rules(cluster, a, BAD)
        check_problem(status, headers, raw, 422)
        # The refusal happens before Redis is asked, so there is no event to wait for.
        for node in cluster.nodes:
            body = rules_on(cluster, node)
            check(body["sha256"] == shadowed["sha256"] and body["cluster_revision"] == shadow_revision,
                  "a refused file changed nothing on %s: %r" % (node.name, body))
            check(action_on(cluster, node) == "allow", "and decides as before on %s" % node.name)

        # A SIGHUP on node B after its file changed: the file is stored and reaches A and C.
        write_file(b.data_dir + "/rules.toml", BLOCK_NET)
        b.server.proc.send_signal(signal.SIGHUP)
        signalled = time.time()
        everywhere(cluster, cluster.nodes, sha(BLOCK_NET), "block", signalled, PROPAGATION_BOUND + 3,
                   "node B's SIGHUP on every node")
        shadow_revision += 1
        check(rules_on(cluster, c)["cluster_revision"] == shadow_revision, "the SIGHUP took the next revision")

        # Node C is down during a change, then starts on its old file: it catches up before serving.
        check(c.server.stop() == 0, "node C stops cleanly")
        status, _, raw = put_rules(cluster, a, CHALLENGE_NET)
        check(status == 200, "PUT on node A while C is down: %d %r" % (status, raw))
        with open(c.data_dir + "/rules.toml") as f:
            check(f.read() != CHALLENGE_NET, "node C's file is the old one")
        restarted = cluster.start_node("node-c", data_dir=c.data_dir)
        check(action_on(cluster, restarted) == "challenge", "node C serves the cluster's rules from its first request")
        body = rules_on(cluster, restarted)
        check(body["sha256"] == sha(CHALLENGE_NET) and body["cluster_revision"] == shadow_revision + 1,
              "node C adopted the cluster's file: %r" % body)
        started = [e for e in cluster_entries(restarted, cluster.admin) if detail(e, "trigger") == "start"]
        check(len(started) == 1 and detail(started[0], "sha256") == sha(CHALLENGE_NET),
              "node C journaled the adoption at start: %r" % started)
        nodes_now = [a, b, restarted]
        everywhere(cluster, nodes_now, sha(CHALLENGE_NET), "challenge", time.time(), 5,
                   "every node at the last change, node C's status included")
    finally:
        cluster.cleanup()


def test_concurrent_changes_on_three_nodes_end_in_one_file():
    cluster = Cluster(ARGS, nodes=3)
    try:
        texts = {}
        for node in cluster.nodes:
            texts[node.name] = [BLOCK_NET.replace("net-block", "%s-%d" % (node.name, i)) for i in range(4)]
        answers = []

        def put_all(node):
            for text in texts[node.name]:
                status, _, _ = put_rules(cluster, node, text)
                answers.append(status)

        workers = [threading.Thread(target=put_all, args=(n,)) for n in cluster.nodes]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        check(answers == [200] * len(answers) and len(answers) == 12, "every PUT answered 200: %r" % answers)

        def converged():
            views = [rules_on(cluster, n) for n in cluster.nodes]
            newest = views[0]["cluster_revision"]
            shas = {v["sha256"] for v in views}
            states = {(e["sha256"], e["revision"]) for v in views for e in v["nodes"]}
            return newest == 12 and len(shas) == 1 and states == {(shas.pop(), newest)}

        wait_for(converged, 5, "every node serving the file at the newest revision", interval=0.05)
        final = rules_on(cluster, cluster.nodes[0])["text"]
        check(any(final == t for ts in texts.values() for t in ts), "the final file is one of those PUT")

        # What a failover that lost the last store leaves: an older revision in Redis. The nodes
        # serving revision 12 store it again (the script's restore mode); none goes back.
        topology = cluster.topology
        primary = topology.server_on(topology.primary_port())
        older = texts["node-a"][0] if final != texts["node-a"][0] else texts["node-b"][0]
        topology.cmd(primary, "HSET", "cs:rules", "revision", "11", "text", older, "sha256", sha(older))
        wait_for(lambda: topology.cmd(primary, "HGET", "cs:rules", "revision") == "12", 5,
                 "revision 12 stored again")
        check(topology.cmd(primary, "HGET", "cs:rules", "text") == final, "with the newest file")
        wait_for(converged, 5, "every node still at revision 12", interval=0.05)
        check(all(rules_on(cluster, n)["sha256"] == sha(final) for n in cluster.nodes), "no node went back")
    finally:
        cluster.cleanup()


def test_with_redis_away_a_put_is_refused_and_changes_nothing():
    cluster = Cluster(ARGS, nodes=1, replicas=1)
    try:
        (a,) = cluster.nodes
        status, _, raw = put_rules(cluster, a, BLOCK_NET)
        check(status == 200, "PUT with Redis up: %d %r" % (status, raw))
        for server in cluster.topology.servers:
            check(server.stop() == "", "%s stops cleanly" % server.name)
        wait_for(lambda: a.json("GET", "/readyz")[0] == 503, 10, "node A unready")
        status, headers, raw = put_rules(cluster, a, CHALLENGE_NET)
        check_problem(status, headers, raw, 503, "could not be stored in Redis")
        check(headers.get("retry-after") is not None, "a Retry-After: %r" % headers)
        body = rules_on(cluster, a)
        check(body["sha256"] == sha(BLOCK_NET) and "nodes" not in body and
              body.get("nodes_error", "").startswith("cannot read the nodes' rules statuses from Redis: "),
              "the old rules serve, the view says why it has no nodes: %r" % body)
        check(action_on(cluster, a) == "block", "the old rules decide")
        with open(a.data_dir + "/rules.toml") as f:
            check(f.read() == BLOCK_NET, "the file is unchanged")
        # A SIGHUP after the file changed: refused too, with a warning and a rejected entry.
        write_file(a.data_dir + "/rules.toml", CHALLENGE_NET)
        a.server.proc.send_signal(signal.SIGHUP)
        warned = a.server.log_record("rules reload failed; the previous version keeps serving")
        check(warned is not None and warned.get("trigger") == "sighup", "the SIGHUP's warning: %r" % warned)

        def rejected():
            return [e for e in journal_entries(ARGS.callsign, a.data_dir)
                    if e["action"] == "rules.reload" and e["outcome"] == "rejected" and e["actor_id"] == "sighup"]

        wait_for(rejected, 10, "the SIGHUP's rejected entry in the journal", interval=0.2)
        check(rules_on(cluster, a)["sha256"] == sha(BLOCK_NET) and action_on(cluster, a) == "block",
              "the old rules still decide after the refused SIGHUP")
        for server in cluster.topology.servers:
            server.restart()
        wait_for(lambda: a.json("GET", "/readyz")[0] == 200, 20, "node A ready again", interval=0.1)
        status, _, raw = put_rules(cluster, a, CHALLENGE_NET)
        check(status == 200, "PUT with Redis back: %d %r" % (status, raw))
        check(view(cluster, a)["node-a"][0] == sha(CHALLENGE_NET), "the node's status is back in the view")
    finally:
        cluster.cleanup()


CASES = [
    ("a_change_on_one_node_serves_on_every_node", test_a_change_on_one_node_serves_on_every_node),
    ("concurrent_changes_on_three_nodes_end_in_one_file", test_concurrent_changes_on_three_nodes_end_in_one_file),
    ("with_redis_away_a_put_is_refused_and_changes_nothing", test_with_redis_away_a_put_is_refused_and_changes_nothing),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
