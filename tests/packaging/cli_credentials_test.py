#!/usr/bin/env python3
"""The callsign CLI and a master key ring kept as a systemd credential (docs/operations.md,
"Credentials"): with the ring only in $CREDENTIALS_DIRECTORY (mode 0400) and none in the data
directory, `callsign phone-token` prints the token the real callsignd shows and accepts,
`callsign audit verify` checks that callsignd's journal, `--master-key FILE` wins over the
variable, a missing or refused file exits 1 naming the path (never a key byte), and
`callsign keys rotate` refuses the read-only credential but rotates the credential's source
file named with --master-key, keeping its mode, which the restarted callsignd then reads."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Node, check, parse_args, phone_token_at, run_cases  # noqa: E402

ARGS, _ = parse_args()
WORK = tempfile.mkdtemp(prefix="callsign-cli-credentials-")
SOURCE = os.path.join(WORK, "etc", "master.key")  # LoadCredential=master.key:SOURCE
CREDS = os.path.join(WORK, "credentials")  # what systemd makes of it at a start
DATA = os.path.join(WORK, "data")
RING_HEX = os.urandom(32).hex()
OTHER_HEX = os.urandom(32).hex()
USER = "cred-alice"


def write_ring(path, text, mode):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if os.path.exists(path):
        os.chmod(path, 0o600)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def load_credentials():
    """systemd's copy of SOURCE at each start: a fresh directory, the file mode 0400."""
    shutil.rmtree(CREDS, ignore_errors=True)
    os.makedirs(CREDS, mode=0o700)
    shutil.copyfile(SOURCE, os.path.join(CREDS, "master.key"))
    os.chmod(os.path.join(CREDS, "master.key"), 0o400)


def callsign(*args, creds=True):
    """The CLI as a root shell with the service's credentials exported (or without them)."""
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    if creds:
        env["CREDENTIALS_DIRECTORY"] = CREDS
    out = subprocess.run([ARGS.callsign, *args], capture_output=True, text=True, timeout=120, env=env,
                         stdin=subprocess.DEVNULL)
    check(RING_HEX not in out.stdout + out.stderr and OTHER_HEX not in out.stdout + out.stderr,
          "a key's bytes reached the CLI's output")
    return out


def start_node():
    os.environ["CREDENTIALS_DIRECTORY"] = CREDS  # inherited by this server only
    try:
        return Node(ARGS.callsignd, ARGS.callsign, "", data_dir=DATA)
    finally:
        del os.environ["CREDENTIALS_DIRECTORY"]


def starting_version(node):
    starting = node.server.log_record("starting")
    check(starting is not None, "callsignd logged no 'starting' record")
    check(starting.get("master_key") == "credential", "callsignd did not read the credential: %s" % starting)
    return starting.get("key_version")


def no_ring_in_data_dir():
    check(not os.path.exists(os.path.join(DATA, "master.key")), "a master.key appeared in the data directory")


def phone_token_of(node, ring_dir):
    """The dashboard's token, the CLI's at the same step (credential lookup), and the spec's."""
    shown = node.phone_token(USER)
    at = shown["step"] * shown["period"]
    out = callsign("phone-token", "--data-dir", DATA, "--user", USER, "--time", str(at))
    check(out.returncode == 0, "phone-token with the credential: %d %s" % (out.returncode, out.stderr))
    check(out.stdout.strip() == shown["token"], "the CLI's token %r is not callsignd's %r" %
          (out.stdout.strip(), shown["token"]))
    check(shown["token"] == phone_token_at(ring_dir, USER, shown["step"]), "not the spec's token for the ring")
    return shown


def audit_verify_intact():
    out = callsign("audit", "verify", "--data-dir", DATA)
    check(out.returncode == 0 and "intact" in out.stdout and "signed checkpoints" in out.stdout and
          " 0 signed checkpoints" not in out.stdout, "audit verify with the credential: %d %s %s" %
          (out.returncode, out.stdout, out.stderr))


def cli_reads_the_credential():
    write_ring(SOURCE, "7 %s\n" % RING_HEX, 0o400)
    load_credentials()
    node = start_node()
    try:
        check(starting_version(node) == 7, "callsignd did not run on the version 7 credential")
        node.put_user(USER)
        phone_token_of(node, CREDS)
        # callsignd accepts the token the CLI prints (a fresh one: the step may have moved on).
        token = callsign("phone-token", "--data-dir", DATA, "--user", USER).stdout.strip()
        check(node.verify(USER, token) == {"valid": True, "method": "phone_token", "user": USER},
              "callsignd refused the CLI's token")
    finally:
        node.server.cleanup()  # SIGTERM, exit status 0 required
    no_ring_in_data_dir()
    audit_verify_intact()
    # users import writes audit entries and a checkpoint signed with the ring it read: the
    # journal still verifies under the credential.
    users = os.path.join(WORK, "users.ndjson")
    with open(users, "w") as f:
        f.write('{"id":"cred-bob","email":"cred-bob@example.com","phone_support":true}\n')
    out = callsign("users", "import", users, "--data", DATA)
    check(out.returncode == 0 and "1 created" in out.stdout, "users import: %d %s %s" %
          (out.returncode, out.stdout, out.stderr))
    audit_verify_intact()
    # Without the variable the CLI looks in the data dir, says where, and creates nothing.
    for args in (["phone-token", "--data-dir", DATA, "--user", USER], ["audit", "verify", "--data-dir", DATA],
                 ["users", "import", users, "--data", DATA]):
        out = callsign(*args, creds=False)
        check(out.returncode == 1 and os.path.join(DATA, "master.key") in out.stderr,
              "%s without the credential: %d %s" % (args[0], out.returncode, out.stderr))
    no_ring_in_data_dir()


def option_wins_over_the_variable():
    other = os.path.join(WORK, "other", "master.key")
    write_ring(other, "3 %s\n" % OTHER_HEX, 0o600)
    out = callsign("phone-token", "--data-dir", DATA, "--user", USER, "--time", "1700000000", "--master-key", other)
    check(out.returncode == 0, "--master-key: %d %s" % (out.returncode, out.stderr))
    step = 1700000000 // 30
    check(out.stdout.strip() == phone_token_at(os.path.dirname(other), USER, step), "--master-key's ring not used")
    check(out.stdout.strip() != phone_token_at(CREDS, USER, step), "the credential won over --master-key")
    # The journal's checkpoints were signed under the credential's ring: another ring fails them.
    out = callsign("audit", "verify", "--data-dir", DATA, "--master-key", other)
    check(out.returncode == 1 and "audit journal broken at seq" in out.stdout,
          "audit verify with a foreign --master-key: %d %s %s" % (out.returncode, out.stdout, out.stderr))
    out = callsign("audit", "verify", "--data-dir", DATA, "--master-key=" + SOURCE)
    check(out.returncode == 0 and "intact" in out.stdout, "audit verify --master-key=SOURCE: %s" % out.stderr)
    # breach build hashes with a key derived from the ring: the credential's set is SOURCE's, not OTHER's.
    pairs = os.path.join(WORK, "pairs.txt")
    with open(pairs, "w") as f:
        f.write("alice:hunter2\nbob:correct horse\n")
    sums = []
    for extra in ([], ["--master-key", SOURCE], ["--master-key", other]):
        out = callsign("breach", "build", "--data-dir", DATA, "--pairs", pairs, "--out", os.path.join(WORK, "set"), *extra)
        check(out.returncode == 0 and "2 entries" in out.stdout, "breach build %s: %s %s" % (extra, out.stdout, out.stderr))
        sums.append(out.stdout.split("sha256 of entries and page index ")[1].strip())
    check(sums[0] == sums[1] != sums[2], "breach build did not hash with the credential's ring: %r" % sums)


def bad_files_are_named():
    missing = os.path.join(WORK, "nowhere", "master.key")
    loose = os.path.join(WORK, "loose", "master.key")
    write_ring(loose, "7 %s\n" % RING_HEX, 0o644)
    for path, words in ((missing, "no master key at --master-key " + missing),
                        (loose, "chmod 600 " + loose), (WORK, "not a regular file")):
        for args in (["phone-token", "--data-dir", DATA, "--user", USER], ["audit", "verify", "--data-dir", DATA],
                     ["breach", "build", "--data-dir", DATA, "--pairs", "-", "--out", os.path.join(WORK, "set")],
                     ["keys", "rotate", "--data-dir", DATA]):
            out = callsign(*args, "--master-key", path)
            check(out.returncode == 1 and words in out.stderr and path in out.stderr,
                  "%s --master-key %s: %d %r" % (args[0], path, out.returncode, out.stderr))
    out = callsign("phone-token", "--data-dir", DATA, "--user", USER, "--master-key", "")
    check(out.returncode == 2 and "--master-key needs a file name" in out.stderr, "empty --master-key: %r" % out.stderr)
    # The credential gets callsignd's checks too.
    os.chmod(os.path.join(CREDS, "master.key"), 0o640)
    try:
        out = callsign("phone-token", "--data-dir", DATA, "--user", USER)
        check(out.returncode == 1 and "chmod 600 " + os.path.join(CREDS, "master.key") in out.stderr and
              "CREDENTIALS_DIRECTORY" in out.stderr, "a group-readable credential: %d %r" % (out.returncode, out.stderr))
    finally:
        os.chmod(os.path.join(CREDS, "master.key"), 0o400)


def two_rings_refused():
    """callsignd refuses a credential and a data-dir ring at once; so does the CLI."""
    write_ring(os.path.join(DATA, "master.key"), "1 %s\n" % OTHER_HEX, 0o600)
    try:
        out = callsign("phone-token", "--data-dir", DATA, "--user", USER)
        check(out.returncode == 1 and "both the master.key credential and" in out.stderr, "two rings: %r" % out.stderr)
        # keys rotate --master-key SOURCE would rotate a ring callsignd does not read without the credential.
        out = callsign("keys", "rotate", "--data-dir", DATA, "--master-key", SOURCE)
        check(out.returncode == 1 and "is another ring" in out.stderr, "rotate beside a data-dir ring: %r" % out.stderr)
    finally:
        os.unlink(os.path.join(DATA, "master.key"))


def rotate_the_source_file():
    before = open(SOURCE).read()
    # The credential is systemd's read-only copy: refused, whether found or named.
    for extra in ([], ["--master-key", os.path.join(CREDS, "master.key")]):
        out = callsign("keys", "rotate", "--data-dir", DATA, *extra)
        check(out.returncode == 1 and "read-only copy" in out.stderr and "--master-key FILE" in out.stderr,
              "rotate on the credential %s: %d %r" % (extra, out.returncode, out.stderr))
    check(open(os.path.join(CREDS, "master.key")).read() == before, "the credential changed")
    out = callsign("keys", "rotate", "--data-dir", DATA, "--master-key", SOURCE)
    check(out.returncode == 0 and "version 7 -> 8" in out.stdout and SOURCE in out.stdout,
          "rotate --master-key SOURCE: %d %s %s" % (out.returncode, out.stdout, out.stderr))
    rows = [line.split() for line in open(SOURCE).read().splitlines() if line.strip() and not line.startswith("#")]
    check([r[0] for r in rows] == ["7", "8"] and rows[0][1] == RING_HEX, "SOURCE after rotation: versions %r" %
          [r[0] for r in rows])
    check(stat.S_IMODE(os.stat(SOURCE).st_mode) == 0o400, "SOURCE's mode 0400 was not kept")
    no_ring_in_data_dir()
    # systemctl restart: systemd copies SOURCE again; callsignd and the CLI read version 8.
    load_credentials()
    node = start_node()
    try:
        check(starting_version(node) == 8, "the restarted callsignd is not on version 8")
        phone_token_of(node, CREDS)
    finally:
        node.server.cleanup()
    no_ring_in_data_dir()
    audit_verify_intact()


def help_names_the_lookup():
    for args in (["phone-token"], ["audit"], ["breach"], ["users", "import"], ["keys"], ["keys", "rotate"]):
        out = callsign(*args, "--help", creds=False)
        check(out.returncode == 0 and "--master-key FILE" in out.stdout and "$CREDENTIALS_DIRECTORY/master.key"
              in out.stdout, "%s --help does not explain the ring lookup: %r" % (args, out.stdout[-400:]))


def token_config_reads_credential_paths():
    """callsign token --config reads the file callsignd reads: auth.hs256_key_file =
    "credential:NAME" is NAME in $CREDENTIALS_DIRECTORY, and without the variable it says so."""
    node = start_node()
    try:
        key = os.path.join(CREDS, "jwt-hs256.key")
        shutil.copyfile(os.path.join(DATA, "jwt-hs256.key"), key)
        os.chmod(key, 0o400)
        config = os.path.join(WORK, "token.toml")
        with open(config, "w") as f:
            f.write('[auth]\nhs256_key_file = "credential:jwt-hs256.key"\n')
        out = callsign("token", "--config", config, "--data-dir", DATA, "--role", "admin", "--sub", "ops-1")
        check(out.returncode == 0, "token --config with a credential path: %d %r" % (out.returncode, out.stderr))
        status, _, _ = node.server.json("GET", "/v1/users?limit=1",
                                        headers={"Authorization": "Bearer " + out.stdout.strip()})
        check(status == 200, "callsignd refused the token signed with the credential's key: %d" % status)
        out = callsign("token", "--config", config, "--data-dir", DATA, "--role", "admin", "--sub", "ops-1",
                       creds=False)
        check(out.returncode == 1 and "CREDENTIALS_DIRECTORY" in out.stderr,
              "token --config without the variable: %d %r" % (out.returncode, out.stderr))
    finally:
        node.server.cleanup()
        if os.path.exists(os.path.join(CREDS, "jwt-hs256.key")):
            os.unlink(os.path.join(CREDS, "jwt-hs256.key"))


try:
    code = run_cases([("--help of each ring-using command names --master-key and the credential",
                       help_names_the_lookup),("the CLI reads the master.key credential callsignd reads", cli_reads_the_credential),
                      ("token --config reads credential:NAME key paths", token_config_reads_credential_paths),
                      ("--master-key FILE wins over $CREDENTIALS_DIRECTORY", option_wins_over_the_variable),
                      ("a missing or refused ring file exits 1 naming it", bad_files_are_named),
                      ("a credential and a data-dir ring at once are refused", two_rings_refused),
                      ("keys rotate: not the credential, its --master-key source file", rotate_the_source_file)])
finally:
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(code)
