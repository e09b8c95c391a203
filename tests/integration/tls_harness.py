"""What the TLS suites share (tls_serving_test.py, tls_refusals_test.py): a work directory, a
self-signed P-256 certificate for 127.0.0.1 and its key (plus a second, unrelated pair) made by
the openssl CLI when this module is imported, the [tls] config that uses them, curl, Python
`ssl` client contexts trusting that certificate, a handshake that reports the negotiated
version, and the runner that checks for the CLIs and removes the work directory."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

from harness import check, run_cases

WORK = tempfile.mkdtemp(prefix="callsign-tls-")
PERIOD = 3


def openssl(*args):
    out = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "openssl %s failed: %s" % (args[0], out.stderr))


def make_certificate(name):
    """A self-signed P-256 certificate for 127.0.0.1 (its own CA) and its key."""
    cert = os.path.join(WORK, name + "-cert.pem")
    key = os.path.join(WORK, name + "-key.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", cert, "-days", "2", "-subj", "/CN=callsign test " + name,
            "-addext", "subjectAltName=IP:127.0.0.1")
    return cert, key


CERT, KEY = make_certificate("main")
OTHER_CERT, OTHER_KEY = make_certificate("other")  # trusted by no client


def tls_config(extra="", cert=CERT, key=KEY, tls_extra=""):
    return """
[phone_token]
period = %d

[tls]
enabled = true
listen = "127.0.0.1:0"
cert_file = "%s"
key_file = "%s"
%s
%s
""" % (PERIOD, cert, key, tls_extra, extra)


def curl(*args):
    return subprocess.run(["curl", "--silent", "--show-error", "--max-time", "30", *args],
                          capture_output=True, text=True, timeout=60)


def client_context(minimum=None, maximum=None):
    ctx = ssl.create_default_context(cafile=CERT)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def handshake(port, ctx):
    """The negotiated TLS version, or raises ssl.SSLError / OSError."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()



def run_tls_cases(cases):
    """Runs `cases` (harness.run_cases) if openssl and curl are installed; removes WORK either
    way; returns the exit code."""
    try:
        for tool in ("openssl", "curl"):
            if shutil.which(tool) is None:
                print("FAIL: %s is not installed (./tools/setup test)" % tool)
                return 1
        return run_cases(cases)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
