"""Integration (issue 18): Redis stopped under two callsignd nodes. Verify, user writes, an
unblock and /readyz answer 503 problem+json with the configured Retry-After, nothing is
half-written, and the refused verify, enrollment confirm and login report are still in the node's
journal (outcome "failed"); the gate keeps
answering from the node's block copy on the node that fails open (the default) and refuses on
the node configured to fail closed; when Redis returns, both nodes recover by themselves (a
restarted Redis is a new primary: the step it came back in is fenced, the next one verifies)."""
import json
import sys
import time

from cluster_harness import Cluster, journal_entries, wait_for
from harness import check, parse_args, phone_token_at, run_cases, wait_for_step_start

ARGS, _ = parse_args()
PERIOD = 5
CONFIG = """
[phone_token]
period = %d

[login]
trusted_proxies = ["127.0.0.1"]
""" % PERIOD


def gate(node, ip):
    return node.server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": ip})


def test_redis_stopped_answers_503_keeps_the_gate_as_configured_and_recovers():
    cluster = Cluster(ARGS, nodes=2, config=CONFIG,
                      node_configs={"node-a": "retry_after_seconds = 7\n",
                                    "node-b": 'login_signals_when_unavailable = "closed"\nretry_after_seconds = 7\n'})
    try:
        a, b = cluster.nodes
        cluster.put_user(a, "carol")
        service = cluster.token("service", "login-frontend")
        blocked_ip = "203.0.113.60"
        for _ in range(5):
            status, _, body = a.json("POST", "/v1/login/result",
                                     {"ip": blocked_ip, "username": "x@example.com", "success": False}, service)
            check(status == 200, "failure report: %d %r" % (status, body))
        wait_for(lambda: gate(b, blocked_ip)[0] == 429, 2, "the block on node B")

        for server in cluster.topology.servers:
            check(server.stop() == "", "%s stops cleanly" % server.name)

        def unready(node):
            return node.json("GET", "/readyz")[0] == 503

        wait_for(lambda: unready(a) and unready(b), 10, "both nodes unready")
        status, headers, body = a.json("POST", "/v1/verify", {"user": "carol", "code": "123456", "ticket": "OUT-1"},
                                       cluster.token("agent", "agent-1"))
        check(status == 503 and headers.get("content-type") == "application/problem+json",
              "verify while Redis is away: %d %r" % (status, body))
        check(headers.get("retry-after") == "7", "Retry-After from [shared_state]: %r" % headers.get("retry-after"))
        check("carol" not in json.dumps(body), "the problem names no user: %r" % body)
        # The refused verify is journaled on node A: a code Redis may have burnt leaves a trace.
        failed = [e for e in journal_entries(ARGS.callsign, a.data_dir)
                  if e["action"] == "verify" and e.get("details", {}).get("ticket") == "OUT-1"]
        check(len(failed) == 1 and failed[0]["outcome"] == "failed" and failed[0]["subject"] == "carol" and
              failed[0]["details"].get("error") == "unavailable", "the refused verify's entry: %r" % failed)
        # The cross-node audit view lives in Redis: 503 while it is away.
        status, headers, body = a.json("GET", "/v1/audit?user=carol", token=cluster.admin)
        check(status == 503 and headers.get("retry-after") == "7", "the audit view without Redis: %d %r" % (status, body))
        status, headers, body = b.json("PUT", "/v1/users/dave", {"email": "dave@example.com", "phone_support": True},
                                       cluster.admin)
        check(status == 503 and headers.get("retry-after") == "7", "user write: %d %r" % (status, body))
        # A customer's enrollment start, confirm and removal; node B's login/check (fails closed).
        customer = cluster.token("customer", "carol")
        for method, path, payload in (("POST", "/v1/me/authenticator", None),
                                      ("POST", "/v1/me/authenticator/confirm", {"code": "123456"}),
                                      ("DELETE", "/v1/me/authenticator", None)):
            status, headers, body = a.json(method, path, payload, customer)
            check(status == 503 and headers.get("retry-after") == "7" and
                  headers.get("content-type") == "application/problem+json",
                  "%s %s while Redis is away: %d %r" % (method, path, status, body))
        # A login report: 503, and journaled like the refused verify and confirm (Redis may
        # have counted what it never confirmed).
        status, headers, body = a.json("POST", "/v1/login/result",
                                       {"ip": "198.51.100.9", "username": "x@example.com", "success": False}, service)
        check(status == 503 and headers.get("retry-after") == "7", "login/result while Redis is away: %d %r" %
              (status, body))
        entries = journal_entries(ARGS.callsign, a.data_dir)
        confirms = [e for e in entries if e["action"] == "authenticator.confirm"]
        check(len(confirms) == 1 and confirms[0]["outcome"] == "failed" and confirms[0]["subject"] == "carol" and
              confirms[0]["details"].get("error") == "unavailable", "the refused confirm's entry: %r" % confirms)
        reports = [e for e in entries if e["action"] == "login.result" and e["details"].get("ip") == "198.51.100.9"]
        check(len(reports) == 1 and reports[0]["outcome"] == "failed" and
              reports[0]["details"].get("error") == "unavailable" and reports[0]["details"].get("reported") == "failure"
              and "x@example.com" not in json.dumps(reports[0]), "the refused login report's entry: %r" % reports)
        status, headers, body = b.json("POST", "/v1/login/check", {"ip": "198.51.100.7"}, cluster.token("service", "fe"))
        check(status == 503 and headers.get("retry-after") == "7", "login/check on the closed node: %d %r" %
              (status, body))
        status, headers, body = a.json("DELETE", "/v1/admin/blocks/" + blocked_ip, token=cluster.admin)
        check(status == 503 and headers.get("retry-after") == "7" and
              headers.get("content-type") == "application/problem+json", "unblock: %d %r" % (status, body))

        # Fail open (node A): the block copy still answers; nothing new is refused.
        check(gate(a, blocked_ip)[0] == 429, "node A keeps its known block")
        check(gate(a, "198.51.100.7")[0] == 204, "node A lets an unknown address through")
        # Fail closed (node B): the gate refuses while it cannot know.
        status, headers, _ = gate(b, "198.51.100.7")
        check(status == 503 and headers.get("retry-after") == "7", "node B fails closed: %d %r" % (status, headers))

        for server in cluster.topology.servers:
            server.restart()

        def ready_again():
            return all(n.json("GET", "/readyz")[0] == 200 for n in cluster.nodes)

        wait_for(ready_again, 20, "both nodes ready again", interval=0.1)
        check(gate(b, "198.51.100.7")[0] == 204, "node B answers again")
        check(gate(a, blocked_ip)[0] == 429, "the refused unblock left the block in place")
        status, _, body = b.json("GET", "/v1/users/dave", token=cluster.admin)
        check(status == 404, "the refused write left nothing behind: %d %r" % (status, body))
        step = wait_for_step_start(PERIOD)
        status, _, body = b.json("POST", "/v1/verify", {"user": "carol", "code": phone_token_at(a.data_dir, "carol", step)},
                                 cluster.token("agent", "agent-1"))
        check(status == 200 and body["valid"] is True, "verify after recovery: %d %r" % (status, body))
        # The view is best effort: the entry written while Redis was away never reached it (it is
        # in node A's journal, checked above), while the verify after recovery does.
        def view_after_recovery():
            status, _, page = a.json("GET", "/v1/audit?user=carol&limit=100", token=cluster.admin)
            check(status == 200, "the audit view after recovery: %d %r" % (status, page))
            return page if any(e["action"] == "verify" and e["outcome"] == "valid" for e in page["entries"]) else None

        page = wait_for(view_after_recovery, 10, "the recovered verify in the audit view", interval=0.1)
        check(not any(e.get("details", {}).get("ticket") == "OUT-1" for e in page["entries"]),
              "an entry written while Redis was away reached the view: %r" % page["entries"])
    finally:
        cluster.cleanup()


def test_a_reconnect_reloads_the_blocks_events_missed():
    """Pub/sub is not durable: a block whose event a node missed reaches its copy when the node
    reconnects. The block is written into Redis by hand, with no event; the node's connections
    are then cut (CLIENT KILL), and its gate must refuse the address within seconds."""
    cluster = Cluster(ARGS, nodes=1, config=CONFIG)
    try:
        (a,) = cluster.nodes
        ip = "203.0.113.77"
        check(gate(a, ip)[0] == 204, "the address passes before the block")
        topology = cluster.topology
        primary = topology.server_on(topology.primary_port())
        now_ms = int(time.time() * 1000)
        until = now_ms + 3600 * 1000
        topology.cmd(primary, "HSET", "cs:b:" + ip, "until", str(until), "created", str(now_ms), "rule", "ip",
                     "revision", "1")
        topology.cmd(primary, "PEXPIREAT", "cs:b:" + ip, str(until))
        topology.cmd(primary, "ZADD", "cs:blocks", str(until), ip)
        time.sleep(0.5)
        check(gate(a, ip)[0] == 204, "without an event the node's copy does not know the block yet")
        killed = topology.cmd(primary, "CLIENT", "KILL", "TYPE", "normal") + \
            topology.cmd(primary, "CLIENT", "KILL", "TYPE", "pubsub")
        check(killed >= 2, "the node's connections were cut: %r" % killed)
        wait_for(lambda: gate(a, ip)[0] == 429, 10, "the gate refusing the reloaded block", interval=0.1)
    finally:
        cluster.cleanup()


def test_replicas_lost_one_then_both_then_one_back():
    """wait_replicas = 1 with two replicas: one replica gone, WAIT still gets the other; both gone,
    the primary takes no acknowledged write (503); one back, verifies succeed again, and the code
    refused meanwhile is accepted at most once."""
    cluster = Cluster(ARGS, nodes=1, config=CONFIG, replicas=2)
    try:
        (a,) = cluster.nodes
        users = ["rep-one", "rep-none", "rep-back"]
        for user in users:
            cluster.put_user(a, user)
        agent = cluster.token("agent", "agent-rep")
        topology = cluster.topology
        primary = topology.server_on(topology.primary_port())
        replicas = [s for s in topology.servers if s is not primary]
        check(len(replicas) == 2, "two replicas: %r" % [s.port for s in replicas])

        codes = {}

        def verify(user):
            if user not in codes:
                codes[user] = phone_token_at(a.data_dir, user, int(time.time()) // PERIOD)
            return a.json("POST", "/v1/verify", {"user": user, "code": codes[user]}, agent)

        wait_for_step_start(PERIOD)  # past the step a fresh Redis fenced at start
        check(replicas[0].stop() == "", "replica 1 stops cleanly")
        status, _, body = verify(users[0])
        check(status == 200 and body["valid"] is True, "one replica left: %d %r" % (status, body))
        check(replicas[1].stop() == "", "replica 2 stops cleanly")
        status, headers, body = verify(users[1])
        check(status == 503 and headers.get("retry-after") and headers.get("content-type") == "application/problem+json",
              "no replica left: %d %r" % (status, body))

        def refuses_for_replicas():
            status, _, body = a.json("GET", "/readyz")
            return status == 503 and "refuses writes: too few replicas" in (body or {}).get("detail", "")

        # The primary refuses writes once its replicas' lag passes min-replicas-max-lag (5 s): the
        # node's probe write sees NOREPLICAS, and /readyz says so.
        wait_for(refuses_for_replicas, 15, "/readyz 503: too few replicas", interval=0.1)
        check(a.metric("callsign_redis_writes_refused") == 1, "callsign_redis_writes_refused 1")
        replicas[1].restart()

        def replica_online():
            info = topology.ask(primary, "INFO", "replication")
            return ("state=online" in info and "min_slaves_good_slaves:0" not in info.split())

        wait_for(replica_online, 20, "the restarted replica online behind the primary", interval=0.1)
        status, _, body = verify(users[2])
        check(status == 200 and body["valid"] is True, "a replica back: %d %r" % (status, body))
        wait_for(lambda: a.json("GET", "/readyz")[0] == 200, 10, "ready again with a replica", interval=0.1)
        # The code refused while no replica was left: Redis refused the write outright (NOREPLICAS),
        # or took it and missed the WAIT (then the step stays burnt). Either way it is accepted at
        # most once from now on.
        first = verify(users[1])
        again = verify(users[1])
        check(first[0] == 200 and again[0] == 200 and again[2]["valid"] is False,
              "the refused code sent again, twice: %r %r" % (first[:1] + first[2:], again[:1] + again[2:]))
    finally:
        cluster.cleanup()


CASES = [("redis_stopped_answers_503_keeps_the_gate_as_configured_and_recovers",
          test_redis_stopped_answers_503_keeps_the_gate_as_configured_and_recovers),
         ("a_reconnect_reloads_the_blocks_events_missed", test_a_reconnect_reloads_the_blocks_events_missed),
         ("replicas_lost_one_then_both_then_one_back", test_replicas_lost_one_then_both_then_one_back)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
