"""Integration: `callsign audit verify` and `callsign audit export` against a journal written by
the real callsignd (while it runs and after it stops), an independent re-check of the hash
chain in Python, and detection of a deliberately corrupted entry.

The corruption is done without any callsign code: callsignd's batches are still in RocksDB's
write-ahead log after a clean stop (a fresh database with a WAL is not flushed on close), so the
test edits one entry's bytes in the *.log file and recomputes that WAL record's CRC32C, as a
disk-level attacker would. The change keeps the entry's length and its JSON valid."""
import glob
import hashlib
import json
import os
import re
import struct
import sys

from harness import (Server, audit_entries, bearer, check, cli, json_headers, jwt_key, master_key, mint_token,
                     parse_args, phone_token_at, run_cases, wait_for_step_start, wrong_code)

ARGS, _ = parse_args()
PERIOD = 3
CONFIG = """
[phone_token]
period = %d

[audit]
checkpoint_every = 7
""" % PERIOD


def callsign(*args):
    return cli(ARGS.callsign, *args)


# --- RocksDB write-ahead log records (format of db/log_format.h: 32 KiB blocks; each record is
# masked CRC32C (4, little endian), length (2), type (1), payload; the CRC covers type + payload).

def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


BLOCK = 32768
HEADER = 7


def wal_records(data):
    """Yields (header offset, type, payload offset, length) of each physical record."""
    pos = 0
    while pos + HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < HEADER:
            pos += left_in_block  # trailer padding
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        if kind == 0 and length == 0:
            pos += left_in_block  # zeroed (preallocated) space
            continue
        yield pos, kind, pos + HEADER, length
        pos += HEADER + length


def tamper_wal(db_dir, old, new):
    """Replaces `old` by `new` (same length) inside one WAL record and fixes its CRC. Returns
    the file changed, or raises with what was found."""
    assert len(old) == len(new)
    logs = sorted(glob.glob(os.path.join(db_dir, "*.log")))
    check(logs, "no write-ahead log in %s: %r" % (db_dir, sorted(os.listdir(db_dir))))
    for path in logs:
        with open(path, "rb") as f:
            data = bytearray(f.read())
        for header, kind, start, length in wal_records(data):
            payload = bytes(data[start:start + length])
            at = payload.find(old)
            if at < 0:
                continue
            check(kind in (1, 2, 3, 4), "unexpected WAL record type %d in %s" % (kind, path))
            data[start + at:start + at + len(new)] = new
            crc = crc32c(bytes([kind]) + bytes(data[start:start + length]))
            struct.pack_into("<I", data, header, masked(crc))
            with open(path, "wb") as f:
                f.write(data)
            return path
    raise AssertionError("the entry's bytes are not inside one WAL record of %r (flushed to an SST, or split "
                         "across blocks?): this test needs a test-only corruption tool instead" % logs)


# ---------------------------------------------------------------------------------------------

def stored_bytes(line):
    """An exported line minus its final "hash" member: the bytes that were hashed and stored."""
    text = line.rstrip("\n")
    match = re.search(r',"hash":"([0-9a-f]{64})"}$', text)
    check(match is not None, "export line lacks a final hash member: %r" % text[-100:])
    return text[:match.start()] + "}", match.group(1)


def make_activity(server, tokens, data_dir):
    """Users, lookups, verifies (valid, wrong, replayed), an authenticator enrollment. Returns
    every secret value the journal must never contain."""
    secrets = []
    admin = tokens("admin", "ops")
    for user in ("eve", "frank", "grace"):
        status, _, _ = server.request("PUT", "/v1/users/" + user,
                                      json.dumps({"email": user + "@example.com", "phone_support": True}),
                                      json_headers(admin))
        check(status == 201, "create %s: %d" % (user, status))
    agent = tokens("agent", "agent-9")
    for user in ("eve", "frank", "grace"):
        tokens("customer", user)
    server.request("GET", "/v1/users?email=eve@example.com", headers=bearer(agent))
    wait_for_step_start(PERIOD)
    for user in ("eve", "frank", "grace"):
        status, _, body = server.json("GET", "/v1/me/phone-token", headers=bearer(tokens("customer", user)))
        check(status == 200, "phone token %s: %d" % (user, status))
        code = body["token"]
        check(code == phone_token_at(data_dir, user, body["step"]), "phone token derivation")
        secrets.append(code)
        bad = wrong_code(code)
        for payload in ({"user": user, "code": code, "ticket": "T-" + user}, {"user": user, "code": code},
                        {"user": user, "code": bad}):
            status, _, raw = server.request("POST", "/v1/verify", json.dumps(payload), json_headers(agent))
            check(status == 200, "verify: %d %r" % (status, raw))
    status, _, body = server.json("POST", "/v1/me/authenticator", headers=bearer(tokens("customer", "eve")))
    check(status == 201, "enroll: %d" % status)
    secrets.append(body["secret"])
    secrets.append(body["otpauth_uri"].split("secret=")[1].split("&")[0])
    return secrets


def test_verify_and_export_then_detect_corruption():
    server = Server(ARGS.callsignd, CONFIG)
    cache = {}

    def tokens(role, sub):
        if (role, sub) not in cache:
            cache[(role, sub)] = mint_token(ARGS.callsign, server.data_dir, role, sub)
        return cache[(role, sub)]

    try:
        data_dir = server.data_dir
        secrets = make_activity(server, tokens, data_dir)
        api_entries = audit_entries(server, tokens("admin", "ops"))
        check(len(api_entries) >= 14, "only %d entries" % len(api_entries))

        # verify while callsignd runs
        out = callsign("audit", "verify", "--data-dir", data_dir)
        check(out.returncode == 0, "verify while running: exit %d: %s %s" % (out.returncode, out.stdout, out.stderr))
        check(out.stdout.startswith("audit journal intact: %d entries (seq 1..%d)" % (len(api_entries),
                                                                                       len(api_entries))),
              "verify output %r" % out.stdout)
        check(re.search(r"[1-9][0-9]* signed checkpoints", out.stdout), "no checkpoints with checkpoint_every = 7: %r"
              % out.stdout)

        # export while callsignd runs: JSON lines, the same entries as the API
        out = callsign("audit", "export", "--data-dir", data_dir)
        check(out.returncode == 0, "export: exit %d: %s" % (out.returncode, out.stderr))
        lines = out.stdout.splitlines()
        check(len(lines) == len(api_entries), "export printed %d lines, API has %d" % (len(lines), len(api_entries)))
        exported = [json.loads(line) for line in lines]
        check([e["seq"] for e in exported] == list(range(1, len(lines) + 1)), "seqs not 1..N ascending")
        check(exported == api_entries, "export differs from GET /v1/audit")

        # The chain, re-checked independently: hash = SHA-256(stored bytes), prev_hash links.
        prev = "0" * 64
        for line, entry in zip(lines, exported):
            stored, claimed = stored_bytes(line)
            check(hashlib.sha256(stored.encode()).hexdigest() == claimed, "hash of seq %d" % entry["seq"])
            check(entry["prev_hash"] == prev, "prev_hash of seq %d" % entry["seq"])
            prev = claimed

        # Nothing secret in the journal.
        forbidden = secrets + [master_key(data_dir).hex(), jwt_key(data_dir).hex()] + list(cache.values())
        for line in lines:
            entry = json.loads(line)
            text = json.dumps({k: v for k, v in entry.items() if k not in ("hash", "prev_hash", "time", "seq")})
            for value in forbidden:
                check(value not in text, "seq %d contains a code, secret, token or key" % entry["seq"])
        for value in forbidden[len(secrets):]:
            check(value not in out.stdout, "export contains a key or token")

        out = callsign("audit", "export", "--data-dir", data_dir, "--after", "5")
        check(out.returncode == 0 and [json.loads(l)["seq"] for l in out.stdout.splitlines()] ==
              list(range(6, len(lines) + 1)), "export --after 5: %r" % out.stdout[:200])

        # Stop cleanly: still intact (with the final checkpoint).
        check(server.stop() == 0, "SIGTERM exit code")
        out = callsign("audit", "verify", "--data-dir", data_dir)
        check(out.returncode == 0, "verify after stop: exit %d: %s %s" % (out.returncode, out.stdout, out.stderr))

        # Corrupt one entry in the middle: a verify that succeeded ("valid" -> "vaLid").
        target = next(e for e in exported[3:-3] if e["outcome"] == "valid")
        stored, _ = stored_bytes(lines[target["seq"] - 1])
        edited = stored.replace('"outcome":"valid"', '"outcome":"vaLid"')
        check(edited != stored, "nothing to edit")
        tamper_wal(os.path.join(data_dir, "db"), stored.encode(), edited.encode())

        out = callsign("audit", "export", "--data-dir", data_dir)
        check(out.returncode == 0 and '"outcome":"vaLid"' in out.stdout,
              "the edit did not reach the database: exit %d %s" % (out.returncode, out.stderr))
        out = callsign("audit", "verify", "--data-dir", data_dir)
        check(out.returncode == 1, "verify of a corrupted journal: exit %d: %s %s" %
              (out.returncode, out.stdout, out.stderr))
        check(out.stdout.startswith("audit journal broken at seq %d:" % target["seq"]),
              "expected seq %d named: %r" % (target["seq"], out.stdout))
    finally:
        server.cleanup()


def test_cli_errors():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="callsign-it-")
    try:
        out = callsign("audit", "verify", "--data-dir", tmp)
        check(out.returncode == 1 and out.stderr.startswith("callsign:"), "no data: %d %r" % (out.returncode,
                                                                                            out.stderr))
        out = callsign("audit", "export", "--data-dir", tmp)
        check(out.returncode == 1 and out.stderr.startswith("callsign:"), "export no data: %d %r" %
              (out.returncode, out.stderr))
        for args in (["audit"], ["audit", "frobnicate"], ["audit", "verify"], ["audit", "export", "--data-dir", tmp,
                                                                                 "--after", "-1"],
                     ["audit", "verify", "--data-dir", tmp, "--bogus", "1"]):
            out = callsign(*args)
            check(out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and
                  out.stderr.startswith("callsign:"), "%s: exit %d %r" % (args, out.returncode, out.stderr))
        for args in (["audit", "--help"], ["audit", "verify", "--help"], ["audit", "export", "--help"]):
            out = callsign(*args)
            check(out.returncode == 0 and "usage" in out.stdout, "%s: %d" % (args, out.returncode))
        check(not os.path.exists(os.path.join(tmp, "db")), "the CLI created a database")
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


CASES = [
    ("verify_and_export_then_detect_corruption", test_verify_and_export_then_detect_corruption),
    ("cli_errors", test_cli_errors),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
