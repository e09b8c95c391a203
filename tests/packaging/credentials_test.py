#!/usr/bin/env python3
"""systemd credentials (issue 20; docs/configuration.md, "Credentials"): with $CREDENTIALS_DIRECTORY
set as systemd's LoadCredential= sets it, callsignd reads the master key ring from its master.key
(and writes none into the data directory) and the TLS certificate and key named
"credential:tls.crt" / "credential:tls.key"; both rings at once, or a credential: path without
the variable, stop start-up with a message that names files and keys, never their content."""
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Server, check, parse_args, run_cases  # noqa: E402
from tls_harness import CERT, KEY, WORK as TLS_WORK  # noqa: E402  (a P-256 pair for 127.0.0.1)

ARGS, _ = parse_args()
WORK = tempfile.mkdtemp(prefix="callsign-credentials-")
CREDS = os.path.join(WORK, "credentials")
RING_HEX = os.urandom(32).hex()
TLS_CONFIG = ('[tls]\nenabled = true\nlisten = "127.0.0.1:0"\n'
              'cert_file = "credential:tls.crt"\nkey_file = "credential:tls.key"\n')


def make_credentials():
    """What systemd makes of LoadCredential=: a directory of files only the service user reads."""
    os.makedirs(CREDS, mode=0o700)
    # Version 7: a ring callsignd never makes itself (its own starts at 1).
    for name, content in (("master.key", "7 %s\n" % RING_HEX), ("tls.crt", open(CERT).read()),
                          ("tls.key", open(KEY).read())):
        path = os.path.join(CREDS, name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o400)


def start(config, data_dir=None, tls=True):
    os.environ["CREDENTIALS_DIRECTORY"] = CREDS  # inherited by this server only
    try:
        return Server(ARGS.callsignd, config_text=config, data_dir=data_dir, tls=tls)
    finally:
        del os.environ["CREDENTIALS_DIRECTORY"]


def run_to_exit(config_text, env_creds, data_ring=False):
    """callsignd expected to refuse start-up: (status, stdout + stderr)."""
    tmp = tempfile.mkdtemp(prefix="callsign-credentials-run-", dir=WORK)
    config = os.path.join(tmp, "callsign.toml")
    with open(config, "w") as f:
        f.write(config_text)
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    if env_creds:
        env["CREDENTIALS_DIRECTORY"] = CREDS
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir, mode=0o700)
    if data_ring:  # a ring in the data dir as well as the credential
        with open(os.path.join(data_dir, "master.key"), "w") as f:
            f.write("1 %s\n" % os.urandom(32).hex())
        os.chmod(os.path.join(data_dir, "master.key"), 0o600)
    out = subprocess.run([ARGS.callsignd, "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--config", config],
                         capture_output=True, text=True, timeout=60, env=env)
    return out.returncode, out.stdout + out.stderr


def secrets_absent(text):
    key_body = "".join(open(KEY).read().splitlines()[1:-1])
    check(RING_HEX not in text and key_body[:40] not in text, "a key's content reached the output")


def serves_with_credentials():
    server = start(TLS_CONFIG)
    try:
        ctx = ssl.create_default_context(cafile=CERT)
        with urllib.request.urlopen("https://127.0.0.1:%d/readyz" % server.tls_port, context=ctx, timeout=10) as res:
            check(res.status == 200, "HTTPS /readyz: %d" % res.status)
        starting = server.log_record("starting") or {}
        check(starting.get("master_key") == "credential" and starting.get("key_version") == 7,
              "the server did not run on the credential's ring: %s" % starting)
        check(not os.path.exists(os.path.join(server.data_dir, "master.key")),
              "a master.key was written into the data directory")
        secrets_absent("\n".join(server.lines + server.stderr))
    finally:
        server.cleanup()


def both_rings_refused():
    code, output = run_to_exit("", env_creds=True, data_ring=True)
    check(code == 1, "status %d with a master.key credential and one in the data dir: %s" % (code, output[-500:]))
    check("both the master.key credential and" in output, "the refusal does not say why: %s" % output[-500:])
    secrets_absent(output)


def credential_path_needs_the_variable():
    code, output = run_to_exit(TLS_CONFIG, env_creds=False)
    check(code == 2, "status %d for credential: without $CREDENTIALS_DIRECTORY: %s" % (code, output[-500:]))
    check("tls.cert_file" in output and "CREDENTIALS_DIRECTORY" in output, "the message: %s" % output[-500:])


def credential_names_are_plain():
    code, output = run_to_exit(TLS_CONFIG.replace("credential:tls.key", "credential:../tls.key"), env_creds=True)
    check(code == 2 and "tls.key_file" in output and "plain file name" in output,
          "credential:../tls.key was not refused: %d %s" % (code, output[-500:]))


try:
    make_credentials()
    code = run_cases([("master key ring and TLS pair from $CREDENTIALS_DIRECTORY", serves_with_credentials),
                      ("a credential ring and a data-dir ring refuse to start", both_rings_refused),
                      ("credential: without $CREDENTIALS_DIRECTORY refuses to start", credential_path_needs_the_variable),
                      ("credential:../x refused", credential_names_are_plain)])
finally:
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.rmtree(TLS_WORK, ignore_errors=True)
sys.exit(code)
