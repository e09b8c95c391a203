"""What the TLS suites share (tls_serving_test.py, tls_refusals_test.py, tls_restrictions_test.py):
a work directory, a self-signed P-256 certificate for 127.0.0.1 and its key (plus a second,
unrelated pair) made by the openssl CLI when this module is imported (an RSA pair on request),
the [tls] config that uses them, curl, Python `ssl` client contexts trusting that certificate, a
handshake that reports the negotiated version, a raw probe that sends a ClientHello and reports
the server's first record or its close and how long it took, and the runner that checks for the
CLIs and removes the work directory."""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time

from harness import check, run_cases

WORK = tempfile.mkdtemp(prefix="callsign-tls-")
PERIOD = 3


def openssl(*args):
    out = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "openssl %s failed: %s" % (args[0], out.stderr))


def make_certificate(name, rsa=False):
    """A self-signed P-256 (or RSA 2048) certificate for 127.0.0.1 (its own CA) and its key."""
    cert = os.path.join(WORK, name + "-cert.pem")
    key = os.path.join(WORK, name + "-key.pem")
    algorithm = ["rsa:2048"] if rsa else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl("req", "-x509", "-newkey", *algorithm, "-nodes", "-keyout", key,
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


# TLS record content types and the alert descriptions the suites expect (RFC 8446 B.1, B.2).
RECORD_ALERT = 21
RECORD_HANDSHAKE = 22
ALERT_PROTOCOL_VERSION = 70
HANDSHAKE_SERVER_HELLO = 2


def client_hello(ctx):
    """The bytes of the ClientHello that `ctx` sends first (Python ssl over memory BIOs)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def first_reply(port, hello=b"", limit=10.0, sock=None):
    """Connects (or uses `sock`), sends `hello`, and reads until the server's first complete TLS
    record, its close or `limit` seconds from the connect. Returns (how, data, seconds): how is
    "record" (data holds at least one whole record), "eof", "reset" or "timeout"."""
    started = time.monotonic()
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=limit)
    data = b""
    try:
        try:
            if hello:
                s.sendall(hello)
            while True:
                if len(data) >= 5 and len(data) >= 5 + struct.unpack(">H", data[3:5])[0]:
                    return "record", data, time.monotonic() - started
                s.settimeout(max(0.01, limit - (time.monotonic() - started)))
                chunk = s.recv(65536)
                if not chunk:
                    return "eof", data, time.monotonic() - started
                data += chunk
        except socket.timeout:
            return "timeout", data, time.monotonic() - started
        except (ConnectionResetError, BrokenPipeError):
            return "reset", data, time.monotonic() - started
    finally:
        s.close()


def describe_record(data):
    """"alert <level> <description>", "handshake <first message type>" or the raw bytes."""
    if len(data) >= 7 and data[0] == RECORD_ALERT:
        return "alert %d %d" % (data[5], data[6])
    if len(data) >= 6 and data[0] == RECORD_HANDSHAKE:
        return "handshake %d" % data[5]
    return repr(data[:40])


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
