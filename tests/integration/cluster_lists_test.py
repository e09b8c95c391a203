"""Integration (issue 18, docs/cluster.md "Lists"): three callsignd nodes on Redis with a replica
and three Sentinels, each loading open_proxies from its own file (different paths). An admin
reload on node A reloads every node from its own source, and GET /v1/admin/lists on any node
shows all three nodes' version and SHA-256 within 2 s; a SIGHUP on node A does the same; a node
whose file differs shows as drift. With Redis away the node still answers its own statuses, with
`nodes_error`; with the embedded backend the response has no `nodes`."""
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time

from cluster_harness import Cluster, wait_for
from harness import Server, audit_entries, bearer, check, mint_token, parse_args, run_cases

ARGS, _ = parse_args()
PROPAGATION_BOUND = 2.0  # seconds, the bound from the reload's reply


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def proxies(*networks):
    return "# test list\n" + "".join(n + "\n" for n in networks)


def list_of(body, name="open_proxies"):
    return next(item for item in body["lists"] if item["name"] == name)


def lists_on(cluster, node):
    status, _, body = node.json("GET", "/v1/admin/lists", token=cluster.admin)
    check(status == 200, "GET /v1/admin/lists on %s: %d %r" % (node.name, status, body))
    return body


def cluster_view(cluster, node):
    """{node name: sha256} of open_proxies as `node` reports every node."""
    item = list_of(lists_on(cluster, node))
    check("nodes" in item, "shared mode lists every node on %s: %r" % (node.name, item))
    return {n["node"]: n["sha256"] for n in item["nodes"]}


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def every_node_sees(cluster, want, bound, what, since):
    """Waits until GET /v1/admin/lists on every node shows `want` ({node: sha256}); returns the
    seconds from `since` (the reload's reply) to then, failing past `bound`."""
    def all_agree():
        return all(cluster_view(cluster, node) == want for node in cluster.nodes)

    wait_for(all_agree, bound - (time.time() - since), what, interval=0.05)
    return time.time() - since


def test_an_admin_reload_on_one_node_reloads_every_node_and_drift_shows():
    files = {}
    configs = {}
    files_root = tempfile.mkdtemp(prefix="callsign-cluster-lists-")
    for name in ("node-a", "node-b", "node-c"):
        path = os.path.join(files_root, name, "proxies-of-%s.netset" % name)
        os.makedirs(os.path.dirname(path))
        files[name] = path
        write(path, proxies("192.0.2.0/24"))
        configs[name] = '\n[lists.open_proxies]\npath = "%s"\nrefresh_seconds = 0\n' % path
    cluster = Cluster(ARGS, nodes=3, node_configs=configs)
    try:
        a, b, c = cluster.nodes
        first = sha(proxies("192.0.2.0/24"))
        # Start-up: every node published its status.
        every_node_sees(cluster, {n.name: first for n in cluster.nodes}, 10, "the start-up statuses", time.time())
        item = list_of(lists_on(cluster, a))
        for entry in item["nodes"]:
            check(entry["version"] == 1 and entry["entries"] == 1 and entry["last_error"] is None
                  and isinstance(entry["loaded_at"], int), "node status at start-up: %r" % entry)
        versions = {n.name: list_of(lists_on(cluster, n))["version"] for n in cluster.nodes}

        # Every node's own file changes; only node A is asked.
        second_text = proxies("192.0.2.0/24", "198.51.100.7")
        for path in files.values():
            write(path, second_text)
        status, _, body = a.json("POST", "/v1/admin/lists/open_proxies/reload", token=cluster.admin)
        replied = time.time()
        check(status == 200 and body["changed"] is True, "reload on node A: %d %r" % (status, body))
        took = every_node_sees(cluster, {n.name: sha(second_text) for n in cluster.nodes}, PROPAGATION_BOUND,
                               "the same new SHA-256 on every node", replied)
        print("  reload on A seen on every node after %.3f s" % took)
        for node in (b, c):
            local = list_of(lists_on(cluster, node))
            check(local["version"] == versions[node.name] + 1 and local["entries"] == 2,
                  "%s reloaded from its own file: %r" % (node.name, local))
            entry = next(e for e in local["nodes"] if e["node"] == node.name)
            check(entry["version"] == local["version"], "its published version is its own: %r" % entry)
            reloads = [e for e in audit_entries(node.server, cluster.admin)
                       if e["action"] == "lists.reload" and e["actor_id"] == "cluster"]
            check(len(reloads) == 1 and reloads[0]["outcome"] == "reloaded",
                  "%s journaled the reload another node asked for: %r" % (node.name, reloads))

        # A SIGHUP on node A reaches every node too.
        third_text = proxies("192.0.2.0/24", "198.51.100.7", "203.0.113.0/28")
        for path in files.values():
            write(path, third_text)
        a.server.proc.send_signal(signal.SIGHUP)
        every_node_sees(cluster, {n.name: sha(third_text) for n in cluster.nodes}, PROPAGATION_BOUND + 3,
                        "a SIGHUP on node A reaching every node", time.time())

        # Node C's source differs: after a reload on node A, the drift is visible on every node.
        fourth_text = proxies("192.0.2.0/25")
        drifted_text = proxies("192.0.2.128/25")
        write(files["node-a"], fourth_text)
        write(files["node-b"], fourth_text)
        write(files["node-c"], drifted_text)
        status, _, body = a.json("POST", "/v1/admin/lists/open_proxies/reload", token=cluster.admin)
        replied = time.time()
        check(status == 200 and body["changed"] is True, "second reload on node A: %d %r" % (status, body))
        every_node_sees(cluster, {"node-a": sha(fourth_text), "node-b": sha(fourth_text),
                                  "node-c": sha(drifted_text)}, PROPAGATION_BOUND, "the drift of node C", replied)
    finally:
        cluster.cleanup()
        shutil.rmtree(files_root, ignore_errors=True)


def test_with_redis_away_the_local_view_still_answers():
    cluster = Cluster(ARGS, nodes=1, replicas=1)
    try:
        (a,) = cluster.nodes
        wait_for(lambda: "node-a" in cluster_view(cluster, a), 10, "node A's status in the cluster view")
        # Redis keeps its data across the restart below (AOF): remove node A's fields first, so
        # only the node's publish after the new primary can bring them back.
        topology = cluster.topology
        primary = topology.server_on(topology.primary_port())
        fields = [f for f in topology.cmd(primary, "HKEYS", "cs:lists:status") if f.startswith("node-a/")]
        check(fields and topology.cmd(primary, "HDEL", "cs:lists:status", *fields) == len(fields),
              "node A's status fields removed: %r" % fields)
        check("node-a" not in cluster_view(cluster, a), "node A's status left the view")
        for server in cluster.topology.servers:
            check(server.stop() == "", "%s stops cleanly" % server.name)
        wait_for(lambda: a.json("GET", "/readyz")[0] == 503, 10, "node A unready")
        body = lists_on(cluster, a)
        check(len(body["lists"]) == 4 and all("nodes" not in item for item in body["lists"]),
              "the local statuses without nodes: %r" % body)
        reason = body.get("nodes_error")
        check(isinstance(reason, str) and reason.startswith("cannot read the nodes' list statuses from Redis: "),
              "nodes_error says why: %r" % reason)
        for server in cluster.topology.servers:
            server.restart()
        wait_for(lambda: a.json("GET", "/readyz")[0] == 200, 20, "node A ready again", interval=0.1)
        wait_for(lambda: "node-a" in cluster_view(cluster, a), 5, "node A's status in the view again")
    finally:
        cluster.cleanup()


def test_the_embedded_backend_answers_as_before():
    server = Server(ARGS.callsignd, "")
    try:
        token = mint_token(ARGS.callsign, server.data_dir, "admin", "ops-1")
        status, _, body = server.json("GET", "/v1/admin/lists", headers=bearer(token))
        check(status == 200 and len(body["lists"]) == 4, "GET /v1/admin/lists: %d %r" % (status, body))
        check(set(body) == {"lists"} and all("nodes" not in item for item in body["lists"]),
              "no cluster members with the embedded backend: %r" % body)
    finally:
        server.cleanup()


CASES = [
    ("an_admin_reload_on_one_node_reloads_every_node_and_drift_shows",
     test_an_admin_reload_on_one_node_reloads_every_node_and_drift_shows),
    ("with_redis_away_the_local_view_still_answers", test_with_redis_away_the_local_view_still_answers),
    ("the_embedded_backend_answers_as_before", test_the_embedded_backend_answers_as_before),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
