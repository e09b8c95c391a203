"""Integration: callsignd's storage paths seen from outside. The group-commit writer's counters in
GET /metrics agree with the journal, and a verify whose user is only on disk runs again on the
worker pool instead of waiting for the disk on an I/O thread, and the threads carry the names
docs/architecture.md#threads lists."""
import os
import sys
import time

from harness import Node, Server, check, current_step, parse_args, phone_token_at, run_cases

ARGS, _ = parse_args()


def commit_metrics(server):
    _, _, body = server.request("GET", "/metrics")
    values = {}
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name.startswith(("callsign_commit_", "callsign_audit_", "callsign_state_folds")):
            values[name] = int(value)
    return values


def test_commit_metrics():
    node = Node(ARGS.callsignd, ARGS.callsign)
    try:
        before = commit_metrics(node.server)
        names = ("callsign_commit_groups_total", "callsign_commit_changes_total", "callsign_commit_groups_failed_total",
                 "callsign_audit_entries_total", "callsign_audit_checkpoints_total", "callsign_state_folds_total",
                 "callsign_state_folds_failed_total")
        check(sorted(before) == sorted(names), "commit metrics: %r" % before)
        for i in range(3):
            node.put_user("metrics-user-%d" % i)
        after = commit_metrics(node.server)
        changes = after["callsign_commit_changes_total"] - before["callsign_commit_changes_total"]
        groups = after["callsign_commit_groups_total"] - before["callsign_commit_groups_total"]
        entries = after["callsign_audit_entries_total"] - before["callsign_audit_entries_total"]
        check(changes == 3 and 1 <= groups <= 3 and entries == 3, "three PUTs: %r -> %r" % (before, after))
        check(after["callsign_commit_groups_failed_total"] == 0, "failed groups: %r" % after)
        # The journal agrees with the counter: every committed entry is there.
        check(len(node.audit()) == after["callsign_audit_entries_total"], "audit length vs %r" % after)
    finally:
        node.server.stop()
        node.server.cleanup()


def disk_waits(server):
    _, _, body = server.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("callsign_storage_disk_waits_total "):
            return int(line.split()[1])
    raise AssertionError("no callsign_storage_disk_waits_total in /metrics")


NO_USER_CACHE = "[server]\nuser_cache_entries = 0\n"


def restarted_with_users(prefix, check_restarted, config_text="", on_first=None):
    """Three users put on a first node (then on_first(node), if given), which stops; a second node
    starts on its data directory with `config_text` and is handed to check_restarted. Both are
    stopped and checked after."""
    first = Node(ARGS.callsignd, ARGS.callsign)
    second = None
    try:
        for i in range(3):
            first.put_user("%s-%d" % (prefix, i))
        if on_first is not None:
            on_first(first)
        first.server.stop()
        second = Node(ARGS.callsignd, ARGS.callsign, config_text, data_dir=first.data_dir)
        check_restarted(second)
    finally:
        for node in (second, first):
            if node is not None:
                node.server.stop()
        if second is not None:
            second.server.cleanup()
        first.server.cleanup()


def test_cold_reads_wait_on_the_disk_pool():
    """After a restart the users are in a table file only (RocksDB flushes its recovered log), so
    without the user cache the first verify of a user would wait for the disk on an I/O thread:
    the storage call that needs the file moves to the callsign-disk pool instead, with the same
    answer and one journal entry."""
    def first_verify(second):
        check(disk_waits(second.server) == 0, "disk waits before any verify")
        code = phone_token_at(second.data_dir, "cold-0", current_step(30))
        reply = second.verify("cold-0", code)
        check(reply == {"valid": True, "method": "phone_token", "user": "cold-0"}, "cold verify: %r" % reply)
        moved = disk_waits(second.server)
        check(moved >= 1, "the cold verify did not wait on the disk pool (%d)" % moved)
        # Everything it needs is in memory now: the replay is answered on the I/O thread.
        reply = second.verify("cold-0", code)
        check(reply["valid"] is False, "replay accepted: %r" % reply)
        check(disk_waits(second.server) == moved, "a warm verify waited on the disk pool")
        verifies = [e for e in second.audit() if e["action"] == "verify" and e["subject"] == "cold-0"]
        check([e["outcome"] for e in verifies] == ["valid", "replayed"] or
              [e["outcome"] for e in verifies] == ["replayed", "valid"], "journal: %r" % verifies)
    restarted_with_users("cold", first_verify, NO_USER_CACHE)


def thread_names(pid):
    names = []
    task_dir = "/proc/%d/task" % pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return names


def test_thread_names():
    server = Server(ARGS.callsignd, "", extra_args=("--io-threads", "3"))
    try:
        wanted = ("callsign-io1", "callsign-io2", "callsign-writer", "callsign-fold", "callsign-ctl", "callsign-lists")
        # The port file can appear before the last of them (the control socket) has started.
        deadline = time.monotonic() + 10
        while True:
            names = thread_names(server.proc.pid)
            if all(name in names for name in wanted + ("callsign-work",)) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for name in wanted:
            check(names.count(name) == 1, "one thread named %s among %r" % (name, sorted(names)))
        check("callsign-io3" not in names, "three I/O threads are the main one and two more: %r" % sorted(names))
        check(names.count("callsign-work") == 2, "two worker threads (server.worker_threads) in %r" % sorted(names))
    finally:
        server.stop()
        server.cleanup()


def test_the_warmed_user_cache_spares_the_disk():
    """The same restart with the user cache on (the default): callsignd fills it from RocksDB at
    start, in the background, so the first verify of a user reads it from memory and waits for
    the disk nowhere. The failure counts still live are read into memory the same way: one wrong
    code before the restart left three (the user's, the agent's, the address's)."""
    def wrong_code(first):
        step = current_step(30)
        right = {phone_token_at(first.data_dir, "warm-1", s) for s in (step - 1, step, step + 1)}
        reply = first.verify("warm-1", next(c for c in ("000000", "111111", "222222", "333333") if c not in right))
        check(reply["valid"] is False, "a wrong code was accepted: %r" % reply)

    def first_verify(second):
        warmed = second.server.log_record("user cache warmed")
        check(warmed is not None and warmed.get("users") == 3, "warming at start: %r" % warmed)
        preloaded = second.server.log_record("failure counts preloaded")
        check(preloaded is not None and preloaded.get("counters") == 3, "counts at start: %r" % preloaded)
        check(disk_waits(second.server) == 0, "warming counted as a storage call's disk wait")
        code = phone_token_at(second.data_dir, "warm-0", current_step(30))
        reply = second.verify("warm-0", code)
        check(reply == {"valid": True, "method": "phone_token", "user": "warm-0"}, "warm verify: %r" % reply)
        check(disk_waits(second.server) == 0, "the first verify after the restart waited on the disk pool")
    restarted_with_users("warm", first_verify, on_first=wrong_code)


CASES = [
    ("commit_metrics", test_commit_metrics),
    ("thread_names", test_thread_names),
    ("cold_reads_wait_on_the_disk_pool", test_cold_reads_wait_on_the_disk_pool),
    ("the_warmed_user_cache_spares_the_disk", test_the_warmed_user_cache_spares_the_disk),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
