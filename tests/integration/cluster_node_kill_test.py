"""Integration (issue 18): a callsignd node killed with SIGKILL in the middle of a burst of
verifies loses nothing it acknowledged (every verify it answered valid is in its journal after a
restart on the same data directory), the other nodes carry on serving through the kill, the
restarted node rejoins, and the cross-node audit check passes over the three journals."""
import signal
import subprocess
import sys
import threading
import time

from cluster_harness import Cluster, burst_config, code_of, journal_entries, post_verify
from harness import check, current_step, master_key, parse_args, run_cases, wait_for_step_start

ARGS, _ = parse_args()
PERIOD = 5
USERS = 30
CONFIG = burst_config(PERIOD)








def test_a_killed_node_loses_nothing_it_acknowledged_and_the_others_carry_on():
    cluster = Cluster(ARGS, nodes=3, config=CONFIG)
    stop = threading.Event()
    workers = []
    try:
        a, b, c = cluster.nodes
        users = ["kill-%02d" % i for i in range(USERS)]
        for i, user in enumerate(users):
            cluster.put_user(cluster.nodes[i % 3], user)
        token = cluster.token("agent", "agent-kill")
        key = master_key(a.data_dir)
        results = []  # (node name, time, status, request id, body)
        lock = threading.Lock()
        ports = {n.name: n.server.port for n in cluster.nodes}

        def burst(worker):
            i = worker
            while not stop.is_set():
                user = users[i % USERS]
                name = ["node-a", "node-b", "node-c"][i % 3]
                status, rid, body = post_verify(ports[name], token, user, code_of(key, user, current_step(PERIOD)))
                with lock:
                    results.append((name, time.time(), status, rid, body))
                i += 4

        wait_for_step_start(PERIOD)  # past the step a fresh Redis fenced at start
        workers += [threading.Thread(target=burst, args=(w,)) for w in range(4)]
        for w in workers:
            w.start()
        time.sleep(2.5)
        b.server.stop(signal.SIGKILL)
        killed_at = time.time()
        time.sleep(2.5 * PERIOD)  # two more steps: the others keep accepting fresh codes
        stop.set()
        for w in workers:
            w.join()

        acknowledged_by_b = {rid for n, t, s, rid, body in results
                             if n == "node-b" and s == 200 and body.get("valid") is True}
        check(acknowledged_by_b, "node B acknowledged verifies before its kill")
        later = [(n, s, body) for n, t, s, rid, body in results if t > killed_at + 0.5 and n != "node-b"]
        check(later and all(s == 200 for _, s, _ in later), "the other nodes answer every verify after the kill")
        check(any(body.get("valid") is True for _, _, body in later), "and accept fresh codes after it")

        # Node B, restarted on its data directory, still holds everything it acknowledged.
        restarted = cluster.start_node("node-b", data_dir=b.data_dir)
        status, _, _ = restarted.json("GET", "/readyz")
        check(status == 200, "the restarted node is ready: %d" % status)
        for n in cluster.nodes:
            if n.server.proc.poll() is None:
                n.server.stop()
        journaled = {e.get("request_id") for e in journal_entries(ARGS.callsign, b.data_dir)
                     if e.get("action") == "verify" and e.get("outcome") == "valid"}
        missing = acknowledged_by_b - journaled
        check(not missing, "%d of %d verifies node B acknowledged are missing from its journal" %
              (len(missing), len(acknowledged_by_b)))
        out = subprocess.run([ARGS.callsign, "audit", "verify", "--data-dir", a.data_dir, "--data-dir", b.data_dir,
                              "--data-dir", c.data_dir], capture_output=True, text=True, timeout=120)
        check(out.returncode == 0, "cross-node audit verify: %s %s" % (out.stdout[-600:], out.stderr[-300:]))
        print("     node B acknowledged %d verifies before SIGKILL, all journaled; %d verifies on A and C after" %
              (len(acknowledged_by_b), len(later)))
    finally:
        stop.set()
        for w in workers:
            w.join()
        cluster.cleanup()


CASES = [("a_killed_node_loses_nothing_it_acknowledged_and_the_others_carry_on",
          test_a_killed_node_loses_nothing_it_acknowledged_and_the_others_carry_on)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
