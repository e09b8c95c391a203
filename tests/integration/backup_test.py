"""Integration: `callsign backup` while callsignd runs under verify load, then `callsign restore`
into a new data dir and a server started there: users, the authenticator enrollment (a fresh
oathtool code verifies), single use (a code accepted before the backup is refused after the
restore), the failed-login block and the audit chain (`callsign audit verify`) all come back. Modes are owner-only.
Also: the offline path (server stopped) and refusals of non-empty targets."""
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time

from harness import (bearer, check, cli, json_headers, Node as HarnessNode, oathtool, parse_args, run_cases,
                     wrong_code)

ARGS, _ = parse_args()

# Long phone-token steps: the code accepted before the backup is still inside the accepted
# window after the restore, so refusing it proves the replay mark came back (not expiry).
CONFIG = """
[phone_token]
period = 600

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000
"""


def start_node(data_dir=None):
    return HarnessNode(ARGS.callsignd, ARGS.callsign, CONFIG, data_dir)


def require_owner_only(root):
    """Every directory 0700, every file 0600; returns the relative file names."""
    check(stat.S_IMODE(os.stat(root).st_mode) == 0o700, "%s mode %o" % (root, stat.S_IMODE(os.stat(root).st_mode)))
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            mode = stat.S_IMODE(os.lstat(os.path.join(dirpath, d)).st_mode)
            check(mode == 0o700, "directory %s mode %o" % (d, mode))
        for f in filenames:
            mode = stat.S_IMODE(os.lstat(os.path.join(dirpath, f)).st_mode)
            check(mode == 0o600, "file %s mode %o" % (os.path.join(dirpath, f), mode))
            names.append(os.path.relpath(os.path.join(dirpath, f), root))
    return names


def audit_verify(data_dir):
    out = cli(ARGS.callsign, "audit", "verify", "--data-dir", data_dir)
    check(out.returncode == 0 and "intact" in out.stdout, "audit verify: %s %s" % (out.stdout, out.stderr))
    return out.stdout


def verify_load(node, stop, counts):
    """Verify calls (wrong codes, so every one writes counters and an audit entry) until `stop`."""
    i = 0
    while not stop.is_set():
        user = "bk-load-%d" % (i % 3)
        node.verify(user, wrong_code(), agent="agent-load")
        counts[0] += 1
        i += 1


def test_hot_backup_and_restore():
    work = tempfile.mkdtemp(prefix="callsign-backup-it-")
    source = start_node()
    restored_node = None
    try:
        for user in ("bk-app", "bk-phone", "bk-load-0", "bk-load-1", "bk-load-2"):
            source.put_user(user)
        customer = source.token("customer", "bk-app")
        status, _, body = source.server.json("POST", "/v1/me/authenticator", headers=bearer(customer))
        check(status == 201, "enroll: %d %r" % (status, body))
        secret = body["secret"]
        status, _, body = source.server.json("POST", "/v1/me/authenticator/confirm",
                                             json.dumps({"code": oathtool(secret, int(time.time()))}),
                                             json_headers(customer))
        check(status == 200 and body["state"] == "active", "confirm: %d %r" % (status, body))
        used = source.phone_token("bk-phone")["token"]
        check(source.verify("bk-phone", used)["valid"] is True, "phone token refused before the backup")
        # A failed-login block (five failures from one address) must come back too.
        service = source.token("service", "bk-frontend")
        for _ in range(5):
            status, _, body = source.server.json("POST", "/v1/login/result",
                                                 json.dumps({"ip": "192.0.2.99", "username": "bk", "success": False}),
                                                 json_headers(service))
            check(status == 200, "login/result: %d %r" % (status, body))
        check(body["blocked"] is True, "five failures did not block: %r" % body)

        # The backup runs while verify load writes counters and audit entries.
        stop = threading.Event()
        counts = [0]
        errors = []

        def load():
            try:
                verify_load(source, stop, counts)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        loader = threading.Thread(target=load)
        loader.start()
        while counts[0] < 20 and loader.is_alive():
            time.sleep(0.01)
        dest = os.path.join(work, "backup")
        out = cli(ARGS.callsign, "backup", "--data-dir", source.data_dir, "--out", dest, timeout=300)
        during = counts[0]
        while counts[0] < during + 20 and loader.is_alive():
            time.sleep(0.01)
        stop.set()
        loader.join(timeout=60)
        check(not errors, "verify load failed: %r" % errors)
        check(out.returncode == 0 and "by callsignd" in out.stdout and "files, " in out.stdout, "backup: %d %s %s" %
              (out.returncode, out.stdout, out.stderr))
        names = require_owner_only(dest)
        for needed in ("master.key", "jwt-hs256.key", "callsign-backup", os.path.join("db", "CURRENT")):
            check(needed in names, "%s missing from the backup: %r" % (needed, names))
        check("control.sock" not in names, "the control socket was copied")
        backups = [e for e in source.audit() if e["action"] == "backup.create"]
        check(len(backups) == 1 and backups[0]["actor_type"] == "admin", "backup.create entries %r" % backups)

        # A second backup into the same (now non-empty) directory is refused.
        again = cli(ARGS.callsign, "backup", "--data-dir", source.data_dir, "--out", dest, timeout=300)
        check(again.returncode == 1 and "not empty" in again.stderr, "backup over a backup: %r" % again.stderr)
        # Inside the data directory it would be copied into every later backup: refused.
        inside = os.path.join(source.data_dir, "backups", "b1")
        out = cli(ARGS.callsign, "backup", "--data-dir", source.data_dir, "--out", inside, timeout=300)
        check(out.returncode == 1 and "must be outside the data directory" in out.stderr and not os.path.exists(inside),
              "a hot backup inside the data directory: %d %r" % (out.returncode, out.stderr))

        target = os.path.join(work, "restored")
        out = cli(ARGS.callsign, "restore", "--from", dest, "--data-dir", target, timeout=300)
        check(out.returncode == 0, "restore: %d %s" % (out.returncode, out.stderr))
        require_owner_only(target)
        check(not os.path.exists(os.path.join(target, "callsign-backup")), "the marker was restored")
        out = cli(ARGS.callsign, "restore", "--from", dest, "--data-dir", target, timeout=300)
        check(out.returncode == 1 and "not empty" in out.stderr, "restore over a data dir: %r" % out.stderr)
        report = audit_verify(target)

        restored_node = start_node(target)
        for user in ("bk-app", "bk-phone", "bk-load-0"):
            status, _, body = restored_node.user(user)
            check(status == 200 and body["id"] == user, "user %s after restore: %d %r" % (user, status, body))
        status, _, body = restored_node.user("bk-app")
        check(body["authenticator"] == "active", "enrollment after restore: %r" % body)
        status, _, body = restored_node.server.json("GET", "/v1/admin/blocks",
                                                    headers=bearer(restored_node.token("admin", "bk-admin")))
        check(status == 200 and any(b["key"] == "192.0.2.99" for b in body["blocks"]),
              "the block did not come back: %d %r" % (status, body))
        # A fresh code of the enrolled secret verifies (one step ahead: confirm used this one).
        result = restored_node.verify("bk-app", oathtool(secret, int(time.time()) + 30))
        check(result == {"valid": True, "method": "authenticator", "user": "bk-app"}, "authenticator: %r" % result)
        # The phone token accepted before the backup is still refused: its replay mark came back.
        result = restored_node.verify("bk-phone", used)
        check(result["valid"] is False, "a used code verified after restore: %r" % result)
        last = [e for e in restored_node.audit() if e["subject"] == "bk-phone"][-1]
        check(last["outcome"] == "replayed", "expected a replay refusal, got %r" % last["outcome"])
        audit_verify(target)
        check(re.search(r"intact: \d+ entries", report) is not None, report)
    finally:
        if restored_node is not None:
            restored_node.server.cleanup()
        source.server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def test_offline_backup():
    work = tempfile.mkdtemp(prefix="callsign-backup-it-")
    node = start_node()
    try:
        node.put_user("off-1")
        check(node.server.stop() == 0, "callsignd did not stop cleanly")
        dest = os.path.join(work, "backup")
        out = cli(ARGS.callsign, "backup", "--data-dir", node.data_dir, "--out", dest, timeout=300)
        check(out.returncode == 0 and "by callsignd" not in out.stdout, "offline backup: %d %s %s" %
              (out.returncode, out.stdout, out.stderr))
        require_owner_only(dest)
        check("files, " in out.stdout and " bytes" in out.stdout, "the offline summary: %r" % out.stdout)
        for inside in (node.data_dir, os.path.join(node.data_dir, "backups", "b1"),
                       os.path.join(node.data_dir, "lists", "..", "b2")):
            out = cli(ARGS.callsign, "backup", "--data-dir", node.data_dir, "--out", inside, timeout=300)
            check(out.returncode == 1 and "must be outside the data directory" in out.stderr,
                  "an offline backup to %s: %d %r" % (inside, out.returncode, out.stderr))
        check(not os.path.exists(os.path.join(node.data_dir, "backups")), "a refused backup left a directory")
        target = os.path.join(work, "restored")
        check(cli(ARGS.callsign, "restore", "--from", dest, "--data-dir", target).returncode == 0, "restore")
        audit_verify(target)
        out = cli(ARGS.callsign, "restore", "--from", node.data_dir, "--data-dir", os.path.join(work, "x"))
        check(out.returncode == 1 and "not a callsign backup" in out.stderr, "restore of a data dir: %r" % out.stderr)
    finally:
        node.server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_cases([
        ("hot backup and restore", test_hot_backup_and_restore),
        ("offline backup", test_offline_backup),
    ]))
