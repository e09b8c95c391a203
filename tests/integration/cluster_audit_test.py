"""Integration (issue 18, docs/audit.md "Several nodes"): two callsignd nodes on Redis (a
primary, a replica, one Sentinel) write journals whose entries carry their node ids; each node
links the other's signed checkpoint (an audit.link entry) within seconds, and
`callsign audit verify` over both data directories checks those links after a clean stop."""
import json
import re
import subprocess
import sys

from cluster_harness import Cluster, wait_for
from harness import check, parse_args, run_cases

ARGS, _ = parse_args()


def cli(*args):
    return subprocess.run([ARGS.callsign] + list(args), capture_output=True, text=True, timeout=120)


def test_nodes_link_each_other_and_verify_across_journals():
    cluster = Cluster(ARGS, nodes=2, replicas=1, sentinels=1)
    try:
        a, b = cluster.nodes
        cluster.put_user(a, "alice")
        cluster.put_user(b, "bob")
        # Each node's exchange links the other's head once it has read it (observable in /metrics).
        wait_for(lambda: a.metric("callsign_audit_links_total") >= 1 and b.metric("callsign_audit_links_total") >= 1,
                 20, "both nodes wrote an audit.link entry")
        for n in cluster.nodes:
            n.server.stop()
            check(n.server.proc.returncode == 0, "%s exit status %s" % (n.name, n.server.proc.returncode))

        for n in cluster.nodes:
            out = cli("audit", "export", "--data-dir", n.data_dir)
            check(out.returncode == 0, "export %s: %s" % (n.name, out.stderr))
            entries = [json.loads(line) for line in out.stdout.splitlines()]
            check(entries and all(e.get("node") == n.name for e in entries),
                  "every entry of %s names it: %r" % (n.name, [e.get("node") for e in entries]))
            links = [e for e in entries if e["action"] == "audit.link"]
            other = "node-b" if n.name == "node-a" else "node-a"
            check(links and all(e["actor_type"] == "system" and other in e["details"] for e in links),
                  "%s links %s: %r" % (n.name, other, links))

        out = cli("audit", "verify", "--data-dir", a.data_dir, "--data-dir", b.data_dir)
        check(out.returncode == 0, "verify across nodes: %s %s" % (out.stdout, out.stderr))
        check("node node-a (%s): ok:" % a.data_dir in out.stdout and "node node-b (%s): ok:" % b.data_dir in out.stdout,
              out.stdout)
        summary = re.search(r"cross-links: (\d+) checked, 0 broken, 0 naming", out.stdout)
        check(summary is not None and int(summary.group(1)) >= 2, out.stdout)
        print("     " + out.stdout.strip().replace("\n", "\n     "))
    finally:
        cluster.cleanup()


CASES = [("nodes_link_each_other_and_verify_across_journals", test_nodes_link_each_other_and_verify_across_journals)]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
