"""Integration (docs/cluster.md, Failures): a Redis primary out of memory, and one that may evict.

A full `maxmemory` under `noeviction`: the node reports not-ready with the reason, verifies and
user writes answer 503 problem+json with Retry-After, the refused verify is in the journal, the
gate keeps answering, nothing stored is evicted; with room again the node is ready by itself and
the code is accepted once. A `maxmemory-policy` switched to an evicting one at run time: the node
drops the primary (an evicted replay mark would let a code be accepted twice), says why, and
follows it again once the policy is noeviction."""
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


def readiness(node):
    status, _, body = node.json("GET", "/readyz")
    return status, (body or {}).get("detail", "") if isinstance(body, dict) else ""


def code_now(node, user):
    return phone_token_at(node.data_dir, user, int(time.time()) // PERIOD)


def test_a_full_redis_refuses_writes_with_503_and_recovers():
    cluster = Cluster(ARGS, nodes=1, config=CONFIG, replicas=1, node_configs={"node-a": "retry_after_seconds = 3\n"})
    try:
        (a,) = cluster.nodes
        for user in ("mem-carol", "mem-dave"):
            cluster.put_user(a, user)
        agent = cluster.token("agent", "agent-mem")
        topology = cluster.topology
        primary = topology.server_on(topology.primary_port())
        wait_for_step_start(PERIOD)  # past the step a fresh Redis fenced at start
        carol_code = code_now(a, "mem-carol")
        status, _, body = a.json("POST", "/v1/verify", {"user": "mem-carol", "code": carol_code}, agent)
        check(status == 200 and body["valid"] is True, "a verify before: %d %r" % (status, body))
        check(topology.ask(primary, "EXISTS", "cs:probe:node-a") == 1, "the node's probe key is written")

        # 4 MB of someone's data, then a limit of 1 MB: under noeviction every write is refused.
        check(topology.ask(primary, "SET", "filler", "x" * (4 << 20)) == "OK", "filler stored")
        check(topology.ask(primary, "CONFIG", "SET", "maxmemory", "1mb") == "OK", "maxmemory 1mb")
        wait_for(lambda: readiness(a)[0] == 503, 10, "node A unready", interval=0.05)
        status, detail = readiness(a)
        check("refuses writes: out of memory" in detail, "the reason in /readyz: %r" % detail)
        check(a.metric("callsign_redis_writes_refused") == 1, "callsign_redis_writes_refused 1")
        warning = a.server.log_record("the Redis primary refuses writes; verifies and changes answer 503 until it "
                                      "takes them again")
        check(warning is not None and "out of memory" in warning.get("error", ""), "the warning: %r" % warning)

        dave_code = code_now(a, "mem-dave")
        status, headers, body = a.json("POST", "/v1/verify", {"user": "mem-dave", "code": dave_code, "ticket": "OOM-1"},
                                       agent)
        check(status == 503 and headers.get("content-type") == "application/problem+json" and
              headers.get("retry-after") == "3", "verify while Redis is full: %d %r %r" % (status, headers, body))
        check(dave_code not in json.dumps(body), "the problem holds no code: %r" % body)
        status, headers, body = a.json("PUT", "/v1/users/mem-erin", {"email": "erin@example.com",
                                                                     "phone_support": True}, cluster.admin)
        check(status == 503 and headers.get("retry-after") == "3", "user write while Redis is full: %d %r" %
              (status, body))
        status, _, _ = a.server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": "198.51.100.8"})
        check(status == 204, "the gate keeps answering from the node's copies: %d" % status)
        failed = [e for e in journal_entries(ARGS.callsign, a.data_dir)
                  if e["action"] == "verify" and e.get("details", {}).get("ticket") == "OOM-1"]
        check(len(failed) == 1 and failed[0]["outcome"] == "failed" and
              failed[0]["details"].get("error") == "unavailable", "the refused verify's entry: %r" % failed)
        check(topology.ask(primary, "CONFIG", "SET", "maxmemory", "0") == "OK", "maxmemory 0")
        wait_for(lambda: readiness(a)[0] == 200, 10, "node A ready again", interval=0.05)
        check(a.metric("callsign_redis_writes_refused") == 0, "callsign_redis_writes_refused 0")
        check(a.server.log_record("the Redis primary takes writes again") is not None, "the recovery is logged")
        # The refused verify never ran in Redis: a current code of dave's is accepted once.
        dave_code = code_now(a, "mem-dave")
        first = a.json("POST", "/v1/verify", {"user": "mem-dave", "code": dave_code}, agent)
        again = a.json("POST", "/v1/verify", {"user": "mem-dave", "code": dave_code}, agent)
        check(first[0] == 200 and first[2]["valid"] is True and again[0] == 200 and again[2]["valid"] is False,
              "after the room came back, once: %r %r" % (first[:1] + first[2:], again[:1] + again[2:]))
        status, _, body = a.json("PUT", "/v1/users/mem-erin", {"email": "erin@example.com", "phone_support": True},
                                 cluster.admin)
        check(status in (200, 201), "the user write goes through: %d %r" % (status, body))
    finally:
        cluster.cleanup()


def test_an_evicting_policy_is_refused_until_it_is_noeviction_again():
    cluster = Cluster(ARGS, nodes=1, config=CONFIG, replicas=1)
    try:
        (a,) = cluster.nodes
        cluster.put_user(a, "ev-carol")
        agent = cluster.token("agent", "agent-ev")
        topology = cluster.topology
        primary = topology.server_on(topology.primary_port())
        check(topology.ask(primary, "CONFIG", "SET", "maxmemory-policy", "volatile-lru") == "OK", "volatile-lru")
        wait_for(lambda: readiness(a)[0] == 503, 10, "node A unready", interval=0.05)
        status, detail = readiness(a)
        check("maxmemory-policy is volatile-lru; callsign needs noeviction" in detail, "the reason: %r" % detail)
        status, headers, body = a.json("POST", "/v1/verify", {"user": "ev-carol", "code": code_now(a, "ev-carol")},
                                       agent)
        check(status == 503 and headers.get("retry-after"), "verify while the policy evicts: %d %r" % (status, body))
        check(topology.ask(primary, "CONFIG", "SET", "maxmemory-policy", "noeviction") == "OK", "noeviction")
        wait_for(lambda: readiness(a)[0] == 200, 10, "node A ready again", interval=0.05)
        wait_for_step_start(PERIOD)  # past any step the reconnect fenced
        status, _, body = a.json("POST", "/v1/verify", {"user": "ev-carol", "code": code_now(a, "ev-carol")}, agent)
        check(status == 200 and body["valid"] is True, "verify after the fix: %d %r" % (status, body))
    finally:
        cluster.cleanup()


CASES = [("a_full_redis_refuses_writes_with_503_and_recovers", test_a_full_redis_refuses_writes_with_503_and_recovers),
         ("an_evicting_policy_is_refused_until_it_is_noeviction_again",
          test_an_evicting_policy_is_refused_until_it_is_noeviction_again)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
