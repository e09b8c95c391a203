"""Integration (issue 18): 20 agents spread over three callsignd nodes race one phone code,
200 times (one user per round, so every round has a fresh code): exactly one acceptance each
time, across nodes that share state only through Redis."""
import http.client
import json
import sys
import threading

from cluster_harness import Cluster, burst_config
from harness import check, current_step, parse_args, phone_token_at, run_cases, wait_for_step_start

ARGS, _ = parse_args()
ROUNDS = 200
AGENTS = 20
PERIOD = 10
CONFIG = burst_config(PERIOD)


def test_twenty_agents_over_three_nodes_accept_each_code_once():
    cluster = Cluster(ARGS, nodes=3, config=CONFIG)
    try:
        for r in range(ROUNDS):
            cluster.put_user(cluster.nodes[r % 3], "racer-%03d" % r)
        tokens = [cluster.token("agent", "agent-%02d" % i) for i in range(AGENTS)]
        # One keep-alive connection per agent, each to its node.
        conns = [http.client.HTTPConnection("127.0.0.1", cluster.nodes[i % 3].server.port, timeout=30)
                 for i in range(AGENTS)]
        accepted_counts = []
        # A fresh Redis fences every step begun before the cluster's first connection
        # (docs/cluster.md, "Fence"): start with the next one.
        wait_for_step_start(PERIOD)
        for r in range(ROUNDS):
            user = "racer-%03d" % r
            code = phone_token_at(cluster.nodes[0].data_dir, user, current_step(PERIOD))
            start = threading.Barrier(AGENTS)
            results = [None] * AGENTS

            def agent(i):
                body = json.dumps({"user": user, "code": code})
                start.wait()
                conns[i].request("POST", "/v1/verify", body, {"Content-Type": "application/json",
                                                              "Authorization": "Bearer " + tokens[i]})
                res = conns[i].getresponse()
                results[i] = (res.status, json.loads(res.read()))

            threads = [threading.Thread(target=agent, args=(i,)) for i in range(AGENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(all(s == 200 for s, _ in results), "round %d: every verify answers 200: %r" % (r, results))
            accepted = sum(1 for _, b in results if b.get("valid") is True)
            accepted_counts.append(accepted)
            # A code read at a step edge may be refused by everyone (its step passed): never twice.
            check(accepted <= 1, "round %d: %d acceptances of one code" % (r, accepted))
        exactly_one = sum(1 for n in accepted_counts if n == 1)
        check(exactly_one >= ROUNDS - 4, "exactly one acceptance in %d of %d rounds (the rest straddled a step "
                                         "edge): %r" % (exactly_one, ROUNDS, accepted_counts))
        for c in conns:
            c.close()
        print("     %d rounds, %d with exactly one acceptance, none with two" % (ROUNDS, exactly_one))
    finally:
        cluster.cleanup()


CASES = [("twenty_agents_over_three_nodes_accept_each_code_once",
          test_twenty_agents_over_three_nodes_accept_each_code_once)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
