"""Integration: what the [tls] listener of the real callsignd negotiates and refuses, with a
self-signed certificate made by the openssl CLI (tls_harness.py): TLS versions (default >= 1.2;
min_version = "1.3" refuses a 1.2-only client), a wrong key, a missing certificate or files
swapped stopping start-up without printing key material, plain HTTP on the TLS port, a stalled
handshake, and the per-address cap on the TLS port."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from harness import Server, check, parse_args
from tls_harness import CERT, KEY, OTHER_KEY, WORK, client_context, curl, handshake, run_tls_cases, tls_config

ARGS, _ = parse_args()


def wait_closed(sock, limit=60):
    """True when the server closes `sock` (EOF or reset) within `limit` seconds; the bytes it sent."""
    sock.settimeout(limit)
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, received
            received += chunk
    except socket.timeout:
        return False, received
    except ConnectionResetError:
        return True, received


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

        refused = None
        try:
            handshake(strict.tls_port, client_context(maximum=ssl.TLSVersion.TLSv1_2))
        except (ssl.SSLError, OSError) as exc:
            refused = exc
        check(refused is not None, "min_version 1.3 accepted a TLS 1.2-only client")
        version = handshake(strict.tls_port, client_context(minimum=ssl.TLSVersion.TLSv1_3))
        check(version == "TLSv1.3", "TLS 1.3 client got %r" % version)
        out = curl("--cacert", CERT, "--tls-max", "1.2", "https://127.0.0.1:%d/healthz" % strict.tls_port)
        check(out.returncode != 0, "curl --tls-max 1.2 was served under min_version 1.3")
        out = curl("--cacert", CERT, "--tlsv1.3", "https://127.0.0.1:%d/healthz" % strict.tls_port)
        check(out.returncode == 0 and json.loads(out.stdout)["status"] == "ok", "curl TLS 1.3: %r" % out.stderr)
    finally:
        for server in (default, strict):
            check(server.stop() == 0, "callsignd did not stop cleanly")
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


def test_plain_http_and_stall_on_tls_port():
    server = Server(ARGS.callsignd, tls_config(extra="[limits]\nrequest_timeout_ms = 1500\n"), tls=True)
    try:
        with socket.create_connection(("127.0.0.1", server.tls_port), timeout=30) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            closed, received = wait_closed(s)
        check(closed, "plain HTTP on the TLS port: connection left open")
        check(b"HTTP/" not in received and b"ok" not in received, "plain HTTP was served: %r" % received[:200])

        # A client that connects and never says hello is dropped at the request timeout.
        with socket.create_connection(("127.0.0.1", server.tls_port), timeout=30) as s:
            closed, received = wait_closed(s)
        check(closed and received == b"", "stalled handshake: closed=%s, %r" % (closed, received[:100]))
        # The server still serves TLS afterwards.
        check(handshake(server.tls_port, client_context()) in ("TLSv1.2", "TLSv1.3"), "TLS after the stall")
    finally:
        check(server.stop() == 0, "callsignd did not stop cleanly")
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
            refused = None
            try:
                handshake(server.tls_port, client_context())
            except (ssl.SSLError, OSError) as exc:
                refused = exc
            check(refused is not None, "a 4th TLS connection from one address got a handshake")
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
        check(server.stop() == 0, "callsignd did not stop cleanly")
        server.cleanup()


if __name__ == "__main__":
    sys.exit(run_tls_cases([
        ("versions", test_versions),
        ("bad_certificate_or_key", test_bad_certificate_or_key),
        ("plain_http_and_stall_on_tls_port", test_plain_http_and_stall_on_tls_port),
        ("connection_cap_on_tls_port", test_connection_cap_on_tls_port),
    ]))
