"""Integration: what the [tls] listener of the real callsignd negotiates and refuses, with a
self-signed certificate made by the openssl CLI (tls_harness.py): TLS versions (default >= 1.2;
min_version = "1.3" answers a 1.2-only ClientHello with a protocol_version alert at once), a wrong
key, a missing certificate or files swapped stopping start-up without printing key material, plain
HTTP on the TLS port closed at once and not served, a stalled handshake closed at
limits.request_timeout_ms (bounded from both sides), and the per-address cap on the TLS port
closing the connection before any handshake byte.

Refusals are observed on a raw socket (tls_harness.first_reply): the exact first thing the
server sends, or its close, and how long it took. A timeout never counts as a refusal."""
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from harness import Server, check, parse_args
from tls_harness import (ALERT_PROTOCOL_VERSION, CERT, HANDSHAKE_SERVER_HELLO, KEY, OTHER_KEY, WORK, client_context,
                         client_hello, curl, describe_record, first_reply, handshake, run_tls_cases, tls_config)

ARGS, _ = parse_args()
# A refusal is sent as soon as the server reads the hello or accepts: well under this, even with
# ASan and ctest -j2. A timeout (the request timeout of the case, or the probe's own limit) is far above.
PROMPT = 5.0


def test_versions():
    default = Server(ARGS.callsignd, tls_config(), tls=True)
    strict = Server(ARGS.callsignd, tls_config(tls_extra='min_version = "1.3"'), tls=True)
    try:
        version = handshake(default.tls_port, client_context(maximum=ssl.TLSVersion.TLSv1_2))
        check(version == "TLSv1.2", "a TLS 1.2 client got %r by default" % version)
        version = handshake(default.tls_port, client_context())
        check(version in ("TLSv1.2", "TLSv1.3"), "negotiated %r" % version)
        out = curl("--cacert", CERT, "--tls-max", "1.2", "-w", "%{http_code}", "-o", "/dev/null",
                   "https://127.0.0.1:%d/healthz" % default.tls_port)
        check(out.returncode == 0 and out.stdout == "200", "curl TLS 1.2 by default: %r %r" % (out.stdout, out.stderr))

        # A 1.2-only ClientHello gets a fatal protocol_version alert (RFC 8446 4.2.1), at once.
        hello12 = client_hello(client_context(maximum=ssl.TLSVersion.TLSv1_2))
        how, data, seconds = first_reply(strict.tls_port, hello12, limit=30)
        check(how in ("record", "eof", "reset") and describe_record(data) == "alert 2 %d" % ALERT_PROTOCOL_VERSION,
              "min_version 1.3 against a TLS 1.2-only hello: %s %s after %.1fs" % (how, describe_record(data), seconds))
        check(seconds < PROMPT, "the protocol_version alert took %.1fs" % seconds)
        # The same hello is answered with a ServerHello by the default listener: the probe can tell.
        how, data, _ = first_reply(default.tls_port, hello12, limit=30)
        check(how == "record" and describe_record(data) == "handshake %d" % HANDSHAKE_SERVER_HELLO,
              "default listener against a TLS 1.2 hello: %s %s" % (how, describe_record(data)))
        version = handshake(strict.tls_port, client_context(minimum=ssl.TLSVersion.TLSv1_3))
        check(version == "TLSv1.3", "TLS 1.3 client got %r" % version)
        out = curl("--cacert", CERT, "--tls-max", "1.2", "https://127.0.0.1:%d/healthz" % strict.tls_port)
        check(out.returncode != 0, "curl --tls-max 1.2 was served under min_version 1.3")
        out = curl("--cacert", CERT, "--tlsv1.3", "https://127.0.0.1:%d/healthz" % strict.tls_port)
        check(out.returncode == 0 and json.loads(out.stdout)["status"] == "ok", "curl TLS 1.3: %r" % out.stderr)
    finally:
        for server in (default, strict):
            code = server.stop(signal.SIGTERM)
            check(code == 0, "callsignd exited with %s" % code)
            server.cleanup()


def start_failure(config_text):
    """Runs callsignd expecting it to refuse to start; returns (exit code, stdout + stderr)."""
    tmp = tempfile.mkdtemp(prefix="callsign-tls-bad-", dir=WORK)
    config = os.path.join(tmp, "callsign.toml")
    with open(config, "w") as f:
        f.write(config_text)
    out = subprocess.run([ARGS.callsignd, "--data-dir", os.path.join(tmp, "data"), "--listen", "127.0.0.1:0",
                          "--config", config, "--port-file", os.path.join(tmp, "port")],
                         capture_output=True, text=True, timeout=120)
    check(not os.path.exists(os.path.join(tmp, "port")), "callsignd bound a port before failing")
    return out.returncode, out.stdout + out.stderr


def key_material(path):
    with open(path) as f:
        return [l for l in f.read().splitlines() if l and not l.startswith("-----")]


def test_bad_certificate_or_key():
    code, output = start_failure(tls_config(key=OTHER_KEY))
    check(code != 0, "a mismatched key started (exit 0)")
    check("does not match" in output and OTHER_KEY in output and CERT in output,
          "mismatch message: %r" % output[-800:])
    for line in key_material(OTHER_KEY) + key_material(KEY):
        check(line not in output, "key material in the output")
    check("PRIVATE KEY" not in output, "PEM text in the output")

    missing = os.path.join(WORK, "no-such-cert.pem")
    code, output = start_failure(tls_config(cert=missing))
    check(code != 0 and "tls.cert_file" in output and missing in output, "missing cert: %d %r" % (code, output[-800:]))

    code, output = start_failure(tls_config(cert=KEY, key=KEY))  # a key where the certificate belongs
    check(code != 0 and "tls.cert_file" in output, "key as certificate: %d %r" % (code, output[-800:]))
    for line in key_material(KEY):
        check(line not in output, "key material in the output")

    code, output = start_failure(tls_config(key=CERT))  # a certificate where the key belongs
    check(code != 0 and "tls.key_file" in output and "private key" in output, "cert as key: %d %r" % (code, output[-800:]))

    code, output = start_failure("[tls]\nenabled = true\n")
    check(code == 2 and "tls.cert_file" in output, "enabled without files: %d %r" % (code, output[-800:]))


STALL_MS = 1500
# The stall must close at STALL_MS: not before (the timer's own lower bound, minus clock
# granularity), and not much after. The slack covers ASan and ctest -j2 scheduling; a timer
# that is not armed for the handshake would leave the connection open for the whole probe
# limit, and the default request timeout (10 s) is far beyond it.
STALL_SLACK = 2.5


def test_plain_http_and_stall_on_tls_port():
    server = Server(ARGS.callsignd, tls_config(extra="[limits]\nrequest_timeout_ms = %d\n" % STALL_MS), tls=True)
    try:
        # Plain HTTP on the TLS port: OpenSSL reads "GET " as a broken record and the connection
        # ends at once, without an HTTP byte.
        how, data, seconds = first_reply(server.tls_port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", limit=30)
        check(how in ("eof", "reset", "record") and b"HTTP/" not in data and b"ok" not in data,
              "plain HTTP on the TLS port: %s %r after %.1fs" % (how, data[:200], seconds))
        check(seconds < PROMPT and seconds < STALL_MS / 1000.0,
              "plain HTTP on the TLS port was closed after %.2fs, not at once" % seconds)
        if how == "record":  # an alert, and nothing else, may precede the close
            check(data[0] == 21, "plain HTTP on the TLS port got %s" % describe_record(data))

        # A client that connects and never says hello is dropped at the request timeout.
        how, data, seconds = first_reply(server.tls_port, b"", limit=30)
        check(how in ("eof", "reset") and data == b"", "stalled handshake: %s %r after %.1fs" % (how, data[:100], seconds))
        check(STALL_MS / 1000.0 - 0.1 <= seconds <= STALL_MS / 1000.0 + STALL_SLACK,
              "stalled handshake closed after %.2fs; limits.request_timeout_ms is %d" % (seconds, STALL_MS))
        # A hello that stops half-way is dropped at the same time.
        partial = client_hello(client_context())[:20]
        how, data, seconds = first_reply(server.tls_port, partial, limit=30)
        check(how in ("eof", "reset") and data == b"", "half a hello: %s %r after %.1fs" % (how, data[:100], seconds))
        check(STALL_MS / 1000.0 - 0.1 <= seconds <= STALL_MS / 1000.0 + STALL_SLACK,
              "half a hello closed after %.2fs; limits.request_timeout_ms is %d" % (seconds, STALL_MS))
        # The server still serves TLS afterwards.
        check(handshake(server.tls_port, client_context()) in ("TLSv1.2", "TLSv1.3"), "TLS after the stall")
    finally:
        code = server.stop(signal.SIGTERM)
        check(code == 0, "callsignd exited with %s" % code)
        server.cleanup()


def test_connection_cap_on_tls_port():
    # A long request timeout: the held connections keep their slots for the whole case.
    server = Server(ARGS.callsignd, tls_config(extra="[limits]\nrequest_timeout_ms = 120000\n"
                                                     "max_connections_per_ip = 3\n"), tls=True)
    try:
        # Three connections that never finish their handshake hold all of this address's slots;
        # the fourth is closed before any handshake. (Accepts are handled in order, so the three
        # are registered before the fourth is looked at.)
        held = [socket.create_connection(("127.0.0.1", server.tls_port), timeout=30) for _ in range(3)]
        try:
            # The fourth is closed before the handshake: no ServerHello and no alert, just the
            # close (EOF, or a reset when the hello was already queued), and at once.
            hello = client_hello(client_context())
            how, data, seconds = first_reply(server.tls_port, hello, limit=30)
            check(how in ("eof", "reset") and data == b"",
                  "a 4th TLS connection from one address: %s %s after %.1fs" % (how, describe_record(data), seconds))
            check(seconds < PROMPT, "the 4th connection was closed after %.1fs, not at once" % seconds)
            # The held ones still have their slots: each gets a ServerHello for the same hello.
            how, data, _ = first_reply(server.tls_port, hello, limit=30, sock=held.pop())
            check(how == "record" and describe_record(data) == "handshake %d" % HANDSHAKE_SERVER_HELLO,
                  "a held connection's hello: %s %s" % (how, describe_record(data)))
        finally:
            for s in held:
                s.close()
        # Once they are gone, TLS works again (slots are freed as the server sees each close).
        deadline = time.time() + 60
        while True:
            try:
                check(handshake(server.tls_port, client_context()) in ("TLSv1.2", "TLSv1.3"), "version")
                break
            except (ssl.SSLError, OSError):
                check(time.time() < deadline, "TLS did not recover after the held connections closed")
                time.sleep(0.2)
    finally:
        code = server.stop(signal.SIGTERM)
        check(code == 0, "callsignd exited with %s" % code)
        server.cleanup()


if __name__ == "__main__":
    sys.exit(run_tls_cases([
        ("versions", test_versions),
        ("bad_certificate_or_key", test_bad_certificate_or_key),
        ("plain_http_and_stall_on_tls_port", test_plain_http_and_stall_on_tls_port),
        ("connection_cap_on_tls_port", test_connection_cap_on_tls_port),
    ]))
