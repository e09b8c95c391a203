"""Integration: the callsign CLI against a data dir made by the real callsignd, checked
against an independent Python implementation of the phone-token derivation."""
import base64
import hashlib
import hmac
import os
import struct
import subprocess
import sys

from harness import Server, check, hotp, master_key, parse_args, run_cases

ARGS, _ = parse_args()


def cli(*args):
    return subprocess.run([ARGS.callsign, *args], capture_output=True, text=True, timeout=60)


def totp(secret, unix_time, digest=hashlib.sha1, digits=6, period=30, t0=0):
    return hotp(secret, (unix_time - t0) // period, digest, digits)


def test_phone_token_matches_spec():
    server = Server(ARGS.callsignd)
    try:
        key = master_key(server.data_dir)
        for user, when in [("alice", 1_700_000_000), ("u-42", 59), ("a@b:c.d_e-F9", 2_000_000_000), ("bob", 1_700_000_029)]:
            secret = hmac.new(key, b"callsign phone-token\x00" + user.encode(), hashlib.sha256).digest()
            expected = totp(secret, when)
            out = cli("phone-token", "--data-dir", server.data_dir, "--user", user, "--time", str(when))
            check(out.returncode == 0, "phone-token failed: %s" % out.stderr)
            check(out.stdout.strip() == expected, "%s@%d: got %r want %r" % (user, when, out.stdout, expected))
        # Same step -> same token; next step -> the spec's next value.
        a = cli("phone-token", "--data-dir", server.data_dir, "--user", "alice", "--time", "1700000010").stdout
        b = cli("phone-token", "--data-dir", server.data_dir, "--user", "alice", "--time", "1700000019").stdout
        check(a == b, "tokens within one step are equal")
        # An id callsignd could never store has no token to read out: a usage error.
        for bad in ("ünïcode", "a b", "x" * 129):
            out = cli("phone-token", "--data-dir", server.data_dir, "--user", bad)
            check(out.returncode == 2 and "--user must be a user id" in out.stderr and not out.stdout,
                  "phone-token --user %r: %d %r" % (bad[:20], out.returncode, out.stderr))
    finally:
        server.cleanup()


def test_code_matches_reference():
    secret = bytes(range(1, 21))
    b32 = base64.b32encode(secret).decode().rstrip("=")
    for when, algorithm, digest, digits, period in [(59, "SHA1", hashlib.sha1, 8, 30),
                                                    (1111111109, "SHA256", hashlib.sha256, 6, 30),
                                                    (2000000000, "SHA512", hashlib.sha512, 7, 60)]:
        out = cli("code", "--secret", b32.lower(), "--algorithm", algorithm, "--digits", str(digits),
                  "--period", str(period), "--time", str(when))
        check(out.returncode == 0, out.stderr)
        check(out.stdout.strip() == totp(secret, when, digest, digits, period), "code %s %d" % (algorithm, when))


def test_help_and_bad_arguments():
    for args in (["--help"], ["code", "--help"], ["phone-token", "--help"]):
        out = cli(*args)
        check(out.returncode == 0 and "usage" in out.stdout.lower(), "%s: %r" % (args, out.stdout))
    for args in (["code"], ["code", "--secret", "not*base32"], ["code", "--secret", "JBSWY3DP", "--digits", "12"],
                 ["phone-token", "--user", "x"], ["no-such-command"], ["code", "--secret", "JBSWY3DP", "--bogus"]):
        out = cli(*args)
        check(out.returncode == 2, "%s: exit %d" % (args, out.returncode))
        lines = out.stderr.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("callsign:"), "%s: one-line error, got %r" % (args, out.stderr))
    check("not*base32" not in cli("code", "--secret", "not*base32").stderr, "secret never echoed")


def test_phone_token_without_key_ring():
    import tempfile
    with tempfile.TemporaryDirectory(prefix="callsign-it-") as tmp:
        out = cli("phone-token", "--data-dir", tmp, "--user", "alice")
        check(out.returncode == 1, "exit %d" % out.returncode)
        check("master.key" in out.stderr, out.stderr)
        check(not os.path.exists(os.path.join(tmp, "master.key")), "CLI never creates a key ring")


CASES = [
    ("phone_token_matches_spec", test_phone_token_matches_spec),
    ("code_matches_reference", test_code_matches_reference),
    ("help_and_bad_arguments", test_help_and_bad_arguments),
    ("phone_token_without_key_ring", test_phone_token_without_key_ring),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
