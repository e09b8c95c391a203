"""Integration (issue 18): the rolling master-key rotation of docs/cluster.md ("Key ring") on two
nodes. Node A is stopped, rotated with `callsign keys rotate`, and restarted: it registers
version 2 and serves its codes while node B still runs on version 1. Node B restarted with its
old ring is refused with a clear error; with the rotated master.key copied over it starts, and
verifies both the new version's codes and, within the overlap, the previous version's."""
import hashlib
import hmac
import shutil
import os
import sys

from cluster_harness import Cluster
from harness import check, cli, hotp, master_key, parse_args, run_cases, wait_for_step_start

ARGS, _ = parse_args()
PERIOD = 5
CONFIG = """
[phone_token]
period = %d

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000
""" % PERIOD


def code(data_dir, user, step, version=None):
    secret = hmac.new(master_key(data_dir, version), b"callsign phone-token\x00" + user.encode(),
                      hashlib.sha256).digest()
    return hotp(secret, step)


def verify(cluster, node, user, value):
    status, _, body = node.json("POST", "/v1/verify", {"user": user, "code": value}, cluster.token("agent", "agent-1"))
    check(status == 200, "verify on %s: %d %r" % (node.name, status, body))
    return body["valid"]


def test_a_rolling_rotation_refuses_stale_rings_and_keeps_verifying():
    cluster = Cluster(ARGS, nodes=2, config=CONFIG)
    try:
        a, b = cluster.nodes
        cluster.put_user(a, "rita")
        # 1. Node A: stop, rotate offline, start again on its data directory.
        a.server.stop()
        out = cli(ARGS.callsign, "keys", "rotate", "--data-dir", a.data_dir)
        check(out.returncode == 0, "keys rotate: %s" % out.stderr)
        a = cluster.start_node("node-a", data_dir=a.data_dir)
        step = wait_for_step_start(PERIOD)
        check(verify(cluster, a, "rita", code(a.data_dir, "rita", step, version=2)), "node A accepts a v2 code")
        step = wait_for_step_start(PERIOD)
        check(verify(cluster, b, "rita", code(a.data_dir, "rita", step, version=1)),
              "node B, still on v1, keeps verifying v1 codes during the roll")

        # 2. Node B restarted with its old ring: refused, clearly.
        b.server.stop()
        try:
            cluster.start_node("node-b", data_dir=b.data_dir)
        except RuntimeError as e:
            check("exited early: 1" in str(e) and "which this node's key ring lacks" in str(e),
                  "a clear refusal: %s" % str(e)[-500:])
        else:
            raise AssertionError("node B started with a stale key ring")

        # 3. With the rotated master.key copied over, node B starts and verifies both versions.
        shutil.copy2(os.path.join(a.data_dir, "master.key"), os.path.join(b.data_dir, "master.key"))
        b = cluster.start_node("node-b", data_dir=b.data_dir)
        step = wait_for_step_start(PERIOD)
        check(verify(cluster, b, "rita", code(a.data_dir, "rita", step, version=2)), "node B accepts a v2 code")
        step = wait_for_step_start(PERIOD)
        check(verify(cluster, b, "rita", code(a.data_dir, "rita", step, version=1)),
              "node B accepts a v1 code within the overlap")
    finally:
        cluster.cleanup()


CASES = [("a_rolling_rotation_refuses_stale_rings_and_keeps_verifying",
          test_a_rolling_rotation_refuses_stale_rings_and_keeps_verifying)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
