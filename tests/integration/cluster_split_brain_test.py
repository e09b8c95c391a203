"""Integration (issue 18): split brain. The Redis primary is paused with SIGSTOP (cut off from
its replicas and the Sentinels) while three callsignd nodes verify the same codes on two nodes
each; Sentinel promotes a replica, the nodes follow it, and when the old primary wakes up it
refuses writes (min-replicas-to-write: NOREPLICAS, or READONLY once demoted). No code is accepted
twice, before, during or after."""
import sys
import threading
import time

from cluster_harness import Cluster, burst_config, cluster_topology, code_of, post_verify, wait_for
from harness import check, current_step, master_key, parse_args, run_cases, wait_for_step_start

ARGS, _ = parse_args()
PERIOD = 5
USERS = 30
CONFIG = burst_config(PERIOD)






def test_a_paused_primary_never_lets_two_nodes_accept_one_code():
    cluster = Cluster(ARGS, nodes=3, config=CONFIG)
    stop = threading.Event()
    workers = []
    try:
        nodes = cluster.nodes
        users = ["split-%02d" % i for i in range(USERS)]
        for i, user in enumerate(users):
            cluster.put_user(nodes[i % 3], user)
        token = cluster.token("agent", "agent-split")
        key = master_key(nodes[0].data_dir)
        topology = cluster.topology
        old = topology.server_on(topology.primary_port())
        results = []
        lock = threading.Lock()

        def burst(worker):
            i = worker
            while not stop.is_set():
                user = users[i % USERS]
                s = current_step(PERIOD)
                code = code_of(key, user, s)
                for attempt in range(2):
                    status, _, body = post_verify(nodes[(i + attempt) % 3].server.port, token, user, code)
                    with lock:
                        results.append((user, s, status, body))
                i += 3

        wait_for_step_start(PERIOD)  # past the step a fresh Redis fenced at start
        workers += [threading.Thread(target=burst, args=(w,)) for w in range(3)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        old.pause()
        paused_at = time.time()
        wait_for(lambda: topology.primary_port() != old.port, 15, "Sentinel promoting a replica", interval=0.1)
        wait_for(lambda: all(n.json("GET", "/readyz")[0] == 200 for n in nodes), 15,
                 "every node on the new primary", interval=0.1)
        # Longer than min-replicas-max-lag (5 s): the old primary has no fresh replica behind it.
        time.sleep(max(0.0, 6.5 - (time.time() - paused_at)))
        old.resume()
        # Woken up, the old primary refuses writes: NOREPLICAS, or READONLY once Sentinel demoted it.
        try:
            topology.ask(old, "SET", "cs:split-brain-probe", "1")
            refused = None
        except cluster_topology.RedisError as e:
            refused = str(e)
        check(refused is not None and (refused.startswith("NOREPLICAS") or refused.startswith("READONLY")),
              "the old primary takes no write after waking: %r" % refused)
        time.sleep(2.0)  # the burst goes on while the old primary is demoted
        stop.set()
        for w in workers:
            w.join()

        accepted = {}
        for user, s, status, body in results:
            if status == 200 and body.get("valid") is True:
                accepted[(user, s)] = accepted.get((user, s), 0) + 1
        doubles = {k: n for k, n in accepted.items() if n > 1}
        check(not doubles, "codes accepted twice: %r" % doubles)
        steps = {s for (_, s) in accepted}
        check(len(steps) >= 2, "codes were accepted before and after the switch: steps %r" % sorted(steps))
        wait_for(lambda: "role:slave" in topology.ask(old, "INFO", "replication"), 20,
                 "the old primary demoted to a replica", interval=0.2)
        by_step = {}
        for user, s, status, body in results:
            k = (s, status, (body.get("valid") if isinstance(body, dict) else None))
            by_step[k] = by_step.get(k, 0) + 1
        print("     steps: %r" % sorted(by_step.items()))
        print("     %d verifies, %d codes accepted once, old primary refused with %s" %
              (len(results), len(accepted), refused.split()[0]))
    finally:
        stop.set()
        for w in workers:
            w.join()
        cluster.cleanup()


CASES = [("a_paused_primary_never_lets_two_nodes_accept_one_code",
          test_a_paused_primary_never_lets_two_nodes_accept_one_code)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
