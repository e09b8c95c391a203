"""Integration: audit retention (docs/audit.md, "Retention") on the real callsignd.

`callsign audit prune` through the running server's control socket and offline; [audit]
retention_seconds on its timer. After each, `callsign audit verify` finds the journal intact and
pruned, GET /v1/audit starts after the anchor, the audit.prune entry names who pruned and how
far, and a restart continues the chain. An idle journal gets no further prune entries."""
import os
import shutil
import sys
import tempfile
import time

from harness import Node, Server, audit_entries, check, cli, parse_args, run_cases

ARGS, _ = parse_args()
CONFIG = """
[audit]
checkpoint_every = 5
checkpoint_interval_seconds = 1
"""


def callsign(*args):
    return cli(ARGS.callsign, *args)


def verify(data_dir):
    out = callsign("audit", "verify", "--data-dir", data_dir)
    check(out.returncode == 0, "audit verify: %d %s %s" % (out.returncode, out.stdout, out.stderr))
    return out.stdout


def prune_entries(entries):
    return [e for e in entries if e["action"] == "audit.prune"]


def test_prune_through_the_server_then_offline():
    tmp = tempfile.mkdtemp(prefix="callsign-retention-")
    data_dir = os.path.join(tmp, "data")
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG, data_dir=data_dir)
    try:
        admin = node.token("admin", "ops-1")
        for i in range(12):
            node.put_user("early-%d" % i)
        time.sleep(2.2)  # a checkpoint covers them, signed at least a second before the cutoff
        cutoff = int(time.time())

        out = callsign("audit", "prune", "--data-dir", data_dir, "--before", str(cutoff + 3600))
        check(out.returncode == 2 and "in the future" in out.stderr, "a future cutoff: %d %r" % (out.returncode, out.stderr))
        out = callsign("audit", "prune", "--data-dir", data_dir, "--before", "2026-13-01")
        check(out.returncode == 2 and "YYYY-MM-DD" in out.stderr, "a bad date: %d %r" % (out.returncode, out.stderr))
        out = callsign("audit", "prune", "--data-dir", data_dir, "--before", "2000-01-01")
        check(out.returncode == 0 and "nothing to prune" in out.stdout, "nothing before 2000: %r" % out.stdout)

        out = callsign("audit", "prune", "--data-dir", data_dir, "--before", str(cutoff))
        check(out.returncode == 0 and "pruned by callsignd through seq" in out.stdout,
              "prune through the server: %d %r %r" % (out.returncode, out.stdout, out.stderr))
        through = int(out.stdout.split("through seq ")[1].split(":")[0])
        check(through >= 12, "every early entry was under a checkpoint before the cutoff: %r" % out.stdout)
        report = verify(data_dir)  # a secondary reader, while the server runs
        check("pruned through seq %d" % through in report and "(seq %d.." % (through + 1) in report,
              "verify after the prune: %r" % report)

        entries = audit_entries(node.server, admin)
        check(entries[0]["seq"] == through + 1, "GET /v1/audit starts after the anchor: %r" % entries[:2])
        pruned = prune_entries(entries)
        check(len(pruned) == 1 and pruned[0]["actor_type"] == "admin" and pruned[0]["actor_id"] == "cli" and
              pruned[0]["details"]["through"] == str(through) and pruned[0]["details"]["cutoff"] == str(cutoff),
              "the audit.prune entry: %r" % pruned)
        check(audit_entries(node.server, admin, user="early-0") == [], "a pruned user's trail is gone")

        node.put_user("late-0")  # the chain goes on after the pruned head
        code = node.server.stop()
        check(code == 0, "callsignd exited with %s on SIGTERM" % code)

        # Offline: the CLI opens the database itself (nothing new is old enough: nothing due).
        out = callsign("audit", "prune", "--data-dir", data_dir, "--before", str(cutoff))
        check(out.returncode == 0 and "nothing to prune" in out.stdout, "offline, nothing due: %r %r" %
              (out.stdout, out.stderr))
        time.sleep(1.1)
        out = callsign("audit", "prune", "--data-dir", data_dir, "--before", str(int(time.time())))
        check(out.returncode == 0 and "audit journal pruned through seq" in out.stdout,
              "offline prune: %d %r %r" % (out.returncode, out.stdout, out.stderr))
        verify(data_dir)

        again = Server(ARGS.callsignd, CONFIG, data_dir=data_dir)
        try:
            status, _, body = again.json("PUT", "/v1/users/late-1",
                                         '{"email": "late-1@example.com", "phone_support": true}',
                                         {"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
            check(status == 201, "a write after the restart: %d %r" % (status, body))
        finally:
            again.cleanup()
        check("pruned through seq" in verify(data_dir), "the restarted chain still verifies from its anchor")
    finally:
        node.server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_retention_seconds_prunes_on_a_timer_and_an_idle_journal_stays_still():
    node = Node(ARGS.callsignd, ARGS.callsign, CONFIG + "retention_seconds = 2\n")
    try:
        admin = node.token("admin", "ops-1")
        for i in range(8):
            node.put_user("user-%d" % i)
        deadline = time.monotonic() + 30
        while True:
            entries = audit_entries(node.server, admin)
            pruned = prune_entries(entries)
            if pruned and entries[0]["seq"] > 8:
                break
            check(time.monotonic() < deadline, "no retention prune within 30 s: %r" % entries[:3])
            time.sleep(0.5)
        check(all(e["actor_type"] == "system" and e["actor_id"] == "retention" for e in pruned),
              "the timer's entries: %r" % pruned)
        check("pruned through seq" in verify(node.data_dir), "verify after the timer's prune")
        # Idle: once only prune entries are old enough, the timer adds nothing more.
        time.sleep(4)
        settled = audit_entries(node.server, admin)
        time.sleep(4)
        check(audit_entries(node.server, admin) == settled, "an idle journal kept changing: %r" % settled)
        # Left: prune entries only (one or two, as the timer met the checkpoints), the last
        # declaring every user entry gone; nothing else to remove, so nothing more is added.
        check(settled and all(e["action"] == "audit.prune" for e in settled) and
              int(settled[-1]["details"]["through"]) >= 8,
              "left: %r" % [(e["seq"], e["action"], e["details"]) for e in settled])
    finally:
        node.server.cleanup()


if __name__ == "__main__":
    sys.exit(run_cases([
        ("prune_through_the_server_then_offline", test_prune_through_the_server_then_offline),
        ("retention_seconds_prunes_on_a_timer_and_an_idle_journal_stays_still",
         test_retention_seconds_prunes_on_a_timer_and_an_idle_journal_stays_still),
    ]))
