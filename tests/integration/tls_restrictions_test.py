"""Integration: the TLS restrictions of docs/security.md ("TLS"), probed with the openssl CLI
(`openssl s_client`) against the real callsignd's [tls] listener: CBC suites and RSA key exchange
get a handshake_failure alert, a client-started renegotiation gets "no renegotiation", ALPN `h2`
is never selected, and compression is never chosen. Good handshakes (TLS 1.2 ECDHE-GCM, TLS 1.3,
ALPN http/1.1) succeed as controls.

Each probe is also run against `openssl s_server` configured to allow what callsignd refuses, so
every probe is shown to see an acceptance when there is one. Compression is the exception: this
Debian libssl is built without zlib, so neither server can choose it; the raw ServerHello check
below reads the chosen method exactly and would fail if a libssl with compression chose it."""
import contextlib
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import Server, check, parse_args
from tls_harness import CERT, KEY, RECORD_HANDSHAKE, make_certificate, run_tls_cases, tls_config

ARGS, _ = parse_args()
RSA_CERT, RSA_KEY = make_certificate("rsa", rsa=True)

GOOD_12 = "ECDHE-RSA-AES128-GCM-SHA256"
CBC_SUITES = "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384"
RSA_KX_SUITES = "AES128-GCM-SHA256:AES256-GCM-SHA384"  # AEAD, but RSA key exchange (no forward secrecy)
HANDSHAKE_FAILURE = "SSL alert number 40"


def s_client(port, *args, stdin=b"", ca=RSA_CERT):
    """Runs `openssl s_client` to 127.0.0.1:port; stdin at EOF ends it after the handshake.
    Returns (exit code, stdout + stderr)."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", ca, *args],
                         input=stdin, capture_output=True, timeout=60)
    return out.returncode, (out.stdout + out.stderr).decode(errors="replace")


def negotiated(output):
    """(version, cipher) from s_client's "New, <version>, Cipher is <cipher>" line (the version
    is the cipher's: TLSv1.2 for the GCM suites, TLSv1.3 for 1.3's, (NONE) when none was agreed)."""
    found = re.search(r"^New, (\S+), Cipher is (\S+)$", output, re.M)
    return (found.group(1), found.group(2)) if found else (None, None)


def summary(output):
    """The lines of s_client's output that say what was agreed or refused."""
    keys = ("New, ", "ALPN", "No ALPN", "Compression:", "alert", "error", "RENEGOTIATING", "HTTP/1.", "Verify return")
    return " | ".join(l.strip() for l in output.splitlines() if any(k in l for k in keys))


def alpn(output):
    found = re.search(r"^ALPN protocol: (\S+)$", output, re.M)
    if found:
        return found.group(1)
    check("No ALPN negotiated" in output, "s_client printed no ALPN line: %r" % summary(output))
    return None


class permissive_server:
    """`openssl s_server` with the RSA pair, allowing every suite, client renegotiation, ALPN h2
    and compression (if libssl has it): the probes' positive control."""

    def __enter__(self):
        self.proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", RSA_CERT, "-key", RSA_KEY,
                                      "-cipher", "ALL", "-client_renegotiation", "-alpn", "h2", "-comp", "-www"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for line in self.proc.stdout:  # "ACCEPT 127.0.0.1:<port>" once it listens
            found = re.match(rb"ACCEPT .*:(\d+)\s*$", line)
            if found:
                self.port = int(found.group(1))
                break
        else:
            raise RuntimeError("openssl s_server did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep draining its log
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def renegotiate(port):
    """A TLS 1.2 session, then s_client's "R" (a client-started renegotiation), then an HTTP
    request. Returns (exit code, output after the renegotiation started, whether HTTP came back)."""
    proc = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", RSA_CERT,
                             "-tls1_2", "-cipher", GOOD_12], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.decode(errors="replace")) for l in proc.stdout] + [lines.put(None)],
                     daemon=True).start()

    def read_until(marker, limit=30):
        seen = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                return False, "".join(seen)
            seen.append(line)
            if marker in line:
                return True, "".join(seen)
        return False, "".join(seen)

    try:
        ok, text = read_until("Extended master secret")  # the session block: the handshake is done
        check(ok and negotiated(text)[1] == GOOD_12, "renegotiation probe: no first handshake: %r" % summary(text))
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        ok, after = read_until("RENEGOTIATING")
        check(ok, "s_client did not start a renegotiation: %r" % summary(after))
        try:
            proc.stdin.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # s_client already gave up
        # stdin stays open until the reply (its EOF would end s_client first) or s_client's exit.
        served, rest = read_until("HTTP/1.", limit=30)
        after += rest
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        code = proc.wait(timeout=30)
        return code, after, served
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def server_hello_compression(port, methods):
    """Sends a hand-built TLS 1.2 ClientHello (ECDHE-RSA-AES128-GCM-SHA256, the given compression
    methods) and returns (cipher suite, compression method) from the ServerHello."""
    def ext(kind, body):
        return struct.pack(">HH", kind, len(body)) + body
    groups = struct.pack(">HHH", 4, 0x001d, 0x0017)  # x25519, P-256
    sigalgs = struct.pack(">HHH", 4, 0x0804, 0x0401)  # rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    extensions = (ext(0x000a, groups) + ext(0x000b, b"\x01\x00") + ext(0x000d, sigalgs) +
                  ext(0xff01, b"\x00"))  # supported_groups, ec_point_formats, signature_algorithms, renegotiation_info
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack(">HH", 2, 0xc02f) +
            bytes([len(methods)]) + bytes(methods) + struct.pack(">H", len(extensions)) + extensions)
    handshake = b"\x01" + struct.pack(">I", len(body))[1:] + body
    record = bytes([RECORD_HANDSHAKE]) + b"\x03\x01" + struct.pack(">H", len(handshake)) + handshake
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(record)
        data = b""
        while len(data) < 5 or len(data) < 5 + struct.unpack(">H", data[3:5])[0]:
            chunk = s.recv(65536)
            check(chunk, "closed before the ServerHello: %r" % data[:40])
            data += chunk
    check(data[0] == RECORD_HANDSHAKE and data[5] == 2, "not a ServerHello: %r" % data[:40])
    hello = data[9:]
    session_id_length = hello[34]
    at = 35 + session_id_length
    return struct.unpack(">H", hello[at:at + 2])[0], hello[at + 2]


@contextlib.contextmanager
def callsignd(cert=RSA_CERT, key=RSA_KEY):
    """A callsignd serving TLS with the given pair; yields its TLS port; stops it with SIGTERM
    and requires exit status 0."""
    server = Server(ARGS.callsignd, tls_config(cert=cert, key=key), tls=True)
    try:
        yield server.tls_port
    finally:
        code = server.stop(signal.SIGTERM)
        server.cleanup()
        check(code == 0, "callsignd exited with %s" % code)


def test_good_handshakes():
    """Controls: good handshakes succeed, so a failure in the cases below is the server's refusal."""
    with callsignd() as port:
        code, out = s_client(port, "-tls1_2", "-cipher", GOOD_12)
        check(code == 0 and negotiated(out) == ("TLSv1.2", GOOD_12) and "Verify return code: 0 (ok)" in out,
              "TLS 1.2 %s: exit %d %r" % (GOOD_12, code, summary(out)))
        code, out = s_client(port)
        check(code == 0 and negotiated(out)[0] == "TLSv1.3", "TLS 1.3: exit %d %r" % (code, summary(out)))
        code, out = s_client(port, "-alpn", "h2,http/1.1")
        check(code == 0 and alpn(out) == "http/1.1", "ALPN h2,http/1.1: exit %d %r" % (code, summary(out)))


def refused_alone(port, suites, name, ca=RSA_CERT):
    code, out = s_client(port, "-tls1_2", "-cipher", suites, ca=ca)
    check(code != 0 and HANDSHAKE_FAILURE in out and negotiated(out) == ("(NONE)", "(NONE)"),
          "%s suites offered alone: exit %d %s %r" % (name, code, negotiated(out), summary(out)))


def test_cbc_suites_refused():
    with callsignd() as port:
        refused_alone(port, CBC_SUITES, "CBC")
        # Offered alongside a good suite, the good one is chosen.
        code, out = s_client(port, "-tls1_2", "-cipher", CBC_SUITES + ":" + GOOD_12)
        check(code == 0 and negotiated(out)[1] == GOOD_12, "CBC and GCM offered: %s" % (negotiated(out),))
    with callsignd(CERT, KEY) as port:  # the ECDSA certificate's CBC suites too
        refused_alone(port, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384", "ECDSA CBC", ca=CERT)


def test_rsa_key_exchange_refused():
    with callsignd() as port:
        refused_alone(port, RSA_KX_SUITES, "RSA key exchange")
        code, out = s_client(port, "-tls1_2", "-cipher", RSA_KX_SUITES + ":" + GOOD_12)
        check(code == 0 and negotiated(out)[1] == GOOD_12, "RSA and ECDHE offered: %s" % (negotiated(out),))


def test_alpn_h2_not_selected():
    """ALPN h2 alone: no ALPN answer, and the connection speaks HTTP/1.1."""
    with callsignd() as port:
        code, out = s_client(port, "-alpn", "h2", "-ign_eof",
                             stdin=b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        check(code == 0 and alpn(out) is None, "ALPN h2: exit %d, selected %r" % (code, alpn(out)))
        check("HTTP/1.1 200" in out, "after ALPN h2 offered, HTTP/1.1 was not served: %r" % summary(out))


def test_client_renegotiation_refused():
    """A renegotiation started by the client: "no renegotiation", nothing served after it."""
    with callsignd() as port:
        code, after, served = renegotiate(port)
        check("no renegotiation" in after and not served and code != 0,
              "client renegotiation: exit %d, served %s, %r" % (code, served, summary(after)))


def test_no_compression():
    """Compression offered (DEFLATE first): the server chooses the null method."""
    with callsignd() as port:
        code, out = s_client(port, "-tls1_2", "-comp")
        check(code == 0 and "Compression: NONE" in out, "s_client -comp: %r" % summary(out))
        suite, method = server_hello_compression(port, [1, 0])
        check(suite == 0xc02f and method == 0, "ServerHello chose suite %04x, compression %d" % (suite, method))


def test_probes_see_acceptance():
    """The same probes against openssl s_server allowing everything: each sees the acceptance."""
    with permissive_server() as control:
        for name, suites, expected in (("CBC", CBC_SUITES, "ECDHE-RSA-AES"), ("RSA key exchange", RSA_KX_SUITES, "AES")):
            code, out = s_client(control.port, "-tls1_2", "-cipher", suites)
            chosen = negotiated(out)[1] or ""
            check(code == 0 and chosen.startswith(expected) and chosen in suites.split(":"),
                  "control %s: exit %d, cipher %r" % (name, code, chosen))
        code, out = s_client(control.port, "-alpn", "h2")
        check(code == 0 and alpn(out) == "h2", "control ALPN h2: %r" % alpn(out))
        code, after, served = renegotiate(control.port)
        check(served and "no renegotiation" not in after, "control renegotiation: exit %d %r" % (code, summary(after)))
        # Compression has no control: this libssl has no zlib, so s_server chooses null too.


if __name__ == "__main__":
    sys.exit(run_tls_cases([
        ("good_handshakes", test_good_handshakes),
        ("cbc_suites_refused", test_cbc_suites_refused),
        ("rsa_key_exchange_refused", test_rsa_key_exchange_refused),
        ("alpn_h2_not_selected", test_alpn_h2_not_selected),
        ("client_renegotiation_refused", test_client_renegotiation_refused),
        ("no_compression", test_no_compression),
        ("probes_see_acceptance", test_probes_see_acceptance),
    ]))
