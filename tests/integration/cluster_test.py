"""Integration (issue 18): three callsignd nodes on Redis with a replica and three Sentinels,
all real processes on loopback. A user created on one node verifies through another with at
most two round trips; a dashboard on node A hears of a verify done on node B; failed logins
spread over the nodes block on every node at the fifth, with one Retry-After, and an unblock
on one node lifts it everywhere; an enrollment made or removed on one node reaches another
node's cache through its event; a node whose key ring differs refuses to start."""
import json
import os
import sys
import time

from cluster_harness import Cluster, cluster_topology, wait_for
from harness import (Server, check, current_step, json_headers, oathtool, parse_args, phone_token_at, run_cases,
                     wait_for_step_start, wrong_code)
from ws_client import WebSocket

ARGS, _ = parse_args()
PERIOD = 3
CONFIG = """
[phone_token]
period = %d

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000

[login]
trusted_proxies = ["127.0.0.1"]
""" % PERIOD


def verify(cluster, node, user, code, agent="agent-1"):
    status, headers, body = node.json("POST", "/v1/verify", {"user": user, "code": code},
                                      cluster.token("agent", agent))
    return status, headers, body


def round_trips(node):
    return {op: node.metric("callsign_redis_round_trips_total", '{operation="%s"}' % op)
            for op in ("user_find", "user_find_by_email", "code_settle")}


def verify_route_trips(node):
    """(verify requests counted, their round trips, those that took at most 2) from the route's
    histogram callsign_http_request_redis_round_trips."""
    route = '{route="POST /v1/verify"'
    name = "callsign_http_request_redis_round_trips"
    return (node.metric(name + "_count", route + "}"), node.metric(name + "_sum", route + "}"),
            node.metric(name + "_bucket", route + ',le="2"}'))


def test_a_user_made_on_one_node_verifies_on_another_and_dashboards_hear_it():
    cluster = Cluster(ARGS, nodes=3, config=CONFIG)
    try:
        a, b, c = cluster.nodes
        cluster.put_user(a, "alice")
        # A dashboard on node A.
        ws = WebSocket(a.server.port)
        ws.send_json({"type": "auth", "token": cluster.token("customer", "alice")})
        first = ws.receive_until(lambda m: m.get("type") == "token", timeout=10)
        check(len(first.get("token", "")) == 6, "a code on node A's dashboard: %r" % first)

        step = wait_for_step_start(PERIOD)
        code = phone_token_at(a.data_dir, "alice", step)
        before = round_trips(c)
        route_before = verify_route_trips(c)
        waits_before = c.metric("callsign_redis_round_trip_seconds_count")
        status, _, body = verify(cluster, c, "alice", code)
        check(status == 200 and body.get("valid") is True, "verify through node C: %d %r" % (status, body))
        after = round_trips(c)
        used = sum(after[k] - before[k] for k in after)
        check(used <= 2, "a verify cost %d round trips on node C: %r -> %r" % (used, before, after))
        # The route's own count says the same: the lookup in the handler and the settle its
        # continuation asked for on the Redis client's thread both count for this request.
        route_after = verify_route_trips(c)
        check(route_after[0] - route_before[0] == 1 and route_after[1] - route_before[1] == used
              and route_after[2] == route_after[0],
              "per route, the verify on node C: %r -> %r (%d by operation)" % (route_before, route_after, used))
        # ... and each of those round trips' wait is in the node's latency histogram.
        waits = c.metric("callsign_redis_round_trip_seconds_count") - waits_before
        check(waits >= used, "%d round trip waits recorded on node C for %d round trips" % (waits, used))
        # Node C now holds alice's record, email included: the same code by email is a replay
        # that costs the settle alone.
        status, _, body = c.json("POST", "/v1/verify", {"email": "alice@example.com", "code": code},
                                 cluster.token("agent", "agent-1"))
        check(status == 200 and body.get("valid") is False, "replay by email through node C: %d %r" % (status, body))
        again = round_trips(c)
        check({k: again[k] - after[k] for k in again} == {"user_find": 0, "user_find_by_email": 0, "code_settle": 1},
              "a verify by a cached email on node C: %r -> %r" % (after, again))
        # The same code through node B is a replay, whoever asks.
        status, _, body = verify(cluster, b, "alice", code, agent="agent-2")
        check(status == 200 and body.get("valid") is False, "replay through node B: %d %r" % (status, body))

        # Node A's dashboard hears of node C's verify.
        notice = ws.receive_until(lambda m: m.get("type") == "verified", timeout=5)
        check(notice.get("agent") == "agent-1", "notice on node A: %r" % notice)
        # ... and of node B's, for the next code.
        step = wait_for_step_start(PERIOD)
        status, _, body = verify(cluster, b, "alice", phone_token_at(a.data_dir, "alice", step), agent="agent-3")
        check(status == 200 and body.get("valid") is True, "verify through node B: %d %r" % (status, body))
        notice = ws.receive_until(lambda m: m.get("type") == "verified", timeout=5)
        check(notice.get("agent") == "agent-3", "second notice on node A: %r" % notice)
        ws.close()
    finally:
        cluster.cleanup()


def test_failed_logins_over_three_nodes_block_everywhere_and_an_unblock_lifts_everywhere():
    cluster = Cluster(ARGS, nodes=3, config=CONFIG)
    try:
        service = cluster.token("service", "login-frontend")
        ip = "203.0.113.44"
        for attempt in range(4):
            node = cluster.nodes[attempt % 3]
            status, _, body = node.json("POST", "/v1/login/result", {"ip": ip, "username": "bob@example.com", "success": False}, service)
            check(status == 200 and body == {"blocked": False, "retry_after": 0},
                  "failure %d on %s: %d %r" % (attempt + 1, node.name, status, body))
        status, _, body = cluster.nodes[1].json("POST", "/v1/login/result", {"ip": ip, "username": "bob@example.com", "success": False}, service)
        check(status == 200 and body["blocked"], "the fifth failure blocks: %d %r" % (status, body))

        def gate_all():
            answers = []
            for node in cluster.nodes:
                status, headers, _ = node.server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": ip})
                answers.append((status, headers.get("retry-after")))
            return answers if all(s == 429 for s, _ in answers) else None

        answers = wait_for(gate_all, 2, "the block on every node")
        retry = {int(r) for _, r in answers}
        check(max(retry) - min(retry) <= 1 and min(retry) >= 3590, "one Retry-After everywhere: %r" % answers)

        status, _, body = cluster.nodes[2].json("DELETE", "/v1/admin/blocks/" + ip, token=cluster.admin)
        check(status == 200 and body["lifted"]["key"].endswith(ip), "unblock on node C: %d %r" % (status, body))

        def open_everywhere():
            return all(node.server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": ip})[0] == 204
                       for node in cluster.nodes)

        wait_for(open_everywhere, 2, "the unblock on every node")
        status, _, listed = cluster.nodes[0].json("GET", "/v1/admin/blocks", token=cluster.admin)
        kinds = sorted(b["kind"] for b in listed["blocks"])
        check(status == 200 and kinds == ["username"], "only the username's block is left on node A: %r" % listed)
    finally:
        cluster.cleanup()


def test_an_enrollment_made_or_removed_on_one_node_reaches_another_nodes_cache():
    cluster = Cluster(ARGS, nodes=2, config=CONFIG)
    try:
        a, b = cluster.nodes
        for user in ("erin", "fay"):
            cluster.put_user(a, user)

        def finds():
            return (a.metric("callsign_redis_round_trips_total", '{operation="authenticator_find"}'),
                    a.metric("callsign_authenticator_cache_hits_total"))

        def applied():
            return a.metric("callsign_cluster_events_total", '{direction="applied"}')

        def wrong_codes_on_a(user):
            """Two wrong codes for `user` on node A, each at most two round trips (the user lookup,
            which brings the enrollment along, and the settle); returns the change of finds()."""
            before = finds()
            phone = phone_token_at(a.data_dir, user, current_step(PERIOD))
            for _ in range(2):
                trips = sum(round_trips(a).values()) + a.metric("callsign_redis_round_trips_total",
                                                                 '{operation="authenticator_find"}')
                status, _, body = verify(cluster, a, user, wrong_code(phone))
                check(status == 200 and body.get("valid") is False,
                      "a wrong code on node A: %d %r" % (status, body))
                used = sum(round_trips(a).values()) + a.metric("callsign_redis_round_trips_total",
                                                                '{operation="authenticator_find"}') - trips
                check(used <= 2, "a wrong code for %s cost %d round trips on node A" % (user, used))
            after = finds()
            return after[0] - before[0], after[1] - before[1]

        # Each wrong code asks whether erin has an app: the answer ("none") came with her user
        # record, so both take it from A's cache.
        lookups, hits = wrong_codes_on_a("erin")
        check((lookups, hits) == (0, 2), "no enrollment lookup of its own on node A: %d, %d" % (lookups, hits))

        # Node B enrolls both users' apps and confirms them with the previous step's code (kept
        # clear of a 30 s boundary, so "now" stays one step for oathtool and both nodes).
        if time.time() % 30 > 20:
            time.sleep(30.5 - time.time() % 30)
        now = int(time.time())
        events = applied()
        secrets = {}
        for user in ("erin", "fay"):
            customer = cluster.token("customer", user)
            status, _, body = b.json("POST", "/v1/me/authenticator", token=customer)
            check(status == 201, "enroll %s on node B: %d %r" % (user, status, body))
            secrets[user] = body["secret"]
            status, _, body = b.json("POST", "/v1/me/authenticator/confirm",
                                     {"code": oathtool(secrets[user], now - 30)}, customer)
            check(status == 200, "confirm %s on node B: %d %r" % (user, status, body))
        # Each change publishes two events, the directory's (from the Redis function, at the
        # write) and B's dashboard notice (after its commit): eight for the two enrollments.
        # Once A has them all it verifies erin's app at once: its cached "none" went with her
        # first event. The code is the next step's (one step ahead is accepted): the current step
        # began before the cluster's fence, so it is refused on every node.
        wait_for(lambda: applied() - events >= 8, 5, "node B's enrollment events on node A")
        status, _, body = verify(cluster, a, "erin", oathtool(secrets["erin"], now + 30))
        check(status == 200 and body.get("valid") is True and body.get("method") == "authenticator",
              "erin's app code on node A: %d %r" % (status, body))

        # Node A reads fay's active enrollment (with her record) and keeps it; node B removes it;
        # once that event reached A, A refuses the app's code it would accept from its cached copy.
        lookups, hits = wrong_codes_on_a("fay")
        check((lookups, hits) == (0, 2), "fay's enrollment came with her record, then from the cache: %d, %d"
              % (lookups, hits))
        events = applied()
        status, _, body = b.json("DELETE", "/v1/me/authenticator", token=cluster.token("customer", "fay"))
        check(status in (200, 204), "remove fay's app on node B: %d %r" % (status, body))
        wait_for(lambda: applied() - events >= 2, 5, "node B's removal events on node A")
        status, _, body = verify(cluster, a, "fay", oathtool(secrets["fay"], now + 30))
        check(status == 200 and body.get("valid") is False,
              "fay's removed app's code on node A: %d %r" % (status, body))
        count, _, within_two = verify_route_trips(a)
        check(count >= 6 and within_two == count, "every verify on node A took at most 2 round trips: %d of %d"
              % (within_two, count))
    finally:
        cluster.cleanup()


def refused_start(cluster, name, reason, data_dir=None):
    """Starting node `name` must fail with exit status 1 (never an abort) and `reason` in its output."""
    try:
        cluster.start_node(name, data_dir=data_dir)
    except RuntimeError as e:
        text = str(e)
        check("exited early: 1" in text, "exit status 1: %s" % text[:300])
        check(reason in text, "a clear reason: %s" % text[-600:])
    else:
        raise AssertionError("node %s started; expected a refusal naming %r" % (name, reason))


def test_a_node_with_another_key_ring_refuses_to_start():
    cluster = Cluster(ARGS, nodes=1, config=CONFIG)
    try:
        stranger = os.path.join(cluster.root, "stranger")
        os.makedirs(stranger, mode=0o700)
        with open(os.path.join(stranger, "master.key"), "w") as f:
            f.write("1 %s\n" % os.urandom(32).hex())
        os.chmod(os.path.join(stranger, "master.key"), 0o600)
        refused_start(cluster, "node-x", "differs from the one the cluster registered", data_dir=stranger)
        # The refused node left the registry as it was: node A still serves.
        status, _, _ = cluster.nodes[0].json("GET", "/readyz")
        check(status == 200, "node A still ready: %d" % status)
        # A registry field that is not a key version (another program's, a typo): a node refuses
        # to start with a clear reason and exit status 1, never aborts on it.
        topology = cluster.topology
        topology.cmd(topology.server_on(topology.primary_port()), "HSET", "cs:keyring", "not-a-version", "x")
        refused_start(cluster, "node-y", "not a key version")
    finally:
        cluster.cleanup()


def test_a_node_that_cannot_reach_redis_refuses_to_start():
    """No Redis at the configured address: the node waits 30 s for it, then exits 1 naming why,
    and never serves without its shared state."""
    closed = cluster_topology.free_port()  # nothing listens there
    config = ('[shared_state]\nbackend = "redis"\nnode_id = "lonely"\naddress = "127.0.0.1:%d"\n' % closed)
    started = time.time()
    try:
        Server(ARGS.callsignd, config)
    except RuntimeError as e:
        text = str(e)
        check("exited early: 1" in text, "exit status 1: %s" % text[:300])
        check("cannot reach the Redis primary within 30 s" in text, "a clear reason: %s" % text[-600:])
    else:
        raise AssertionError("a node started without Redis")
    waited = time.time() - started
    check(29 <= waited < 50, "the node gave up after %.1f s, not about 30" % waited)


CASES = [
    ("user_made_on_one_node_verifies_on_another_and_dashboards_hear_it",
     test_a_user_made_on_one_node_verifies_on_another_and_dashboards_hear_it),
    ("failed_logins_over_three_nodes_block_everywhere_and_unblock_lifts_everywhere",
     test_failed_logins_over_three_nodes_block_everywhere_and_an_unblock_lifts_everywhere),
    ("an_enrollment_made_or_removed_on_one_node_reaches_another_nodes_cache",
     test_an_enrollment_made_or_removed_on_one_node_reaches_another_nodes_cache),
    ("a_node_with_another_key_ring_refuses_to_start", test_a_node_with_another_key_ring_refuses_to_start),
    ("a_node_that_cannot_reach_redis_refuses_to_start", test_a_node_that_cannot_reach_redis_refuses_to_start),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
