"""Integration: the [tls] HTTPS/WSS listener of the real callsignd, with a self-signed
certificate made by the openssl CLI. curl and Python's ssl over HTTPS (health, an agent's
verify of a phone token, keep-alive), npm `ws` over WSS (auth, then a token equal to the
derivation), TLS versions (default >= 1.2; min_version = "1.3" refuses a 1.2-only client),
a wrong key, a missing certificate, plain HTTP on the TLS port, a stalled handshake, the
per-address cap on the TLS port, and plaintext = false."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from harness import (Server, check, json_headers, mint_token, parse_args, phone_token_at,
                     run_cases, wait_for_step_start)

ARGS, _ = parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))
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
_, OTHER_KEY = make_certificate("other")


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


def https_json(port, method, path, body=None, headers=None, conn=None):
    import http.client
    own = conn is None
    conn = conn or http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=client_context())
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        return res.status, (json.loads(data) if data else None)
    finally:
        if own:
            conn.close()


def https_status(port, method, path, headers):
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=client_context())
    try:
        conn.request(method, path, headers=headers)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


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


def test_https_health_and_verify():
    server = Server(ARGS.callsignd, tls_config(), tls=True)
    try:
        check(server.tls_port != server.port and server.tls_port > 0, "TLS port %r" % server.tls_port)
        out = curl("--cacert", CERT, "-w", "\\n%{http_code} %{ssl_verify_result}",
                   "https://127.0.0.1:%d/healthz" % server.tls_port)
        check(out.returncode == 0, "curl https healthz failed (%d): %s" % (out.returncode, out.stderr))
        body, status_line = out.stdout.rsplit("\n", 1)
        check(status_line == "200 0", "curl status / verify result %r" % status_line)
        check(json.loads(body).get("status") == "ok", "healthz body %r" % body)
        # Without the CA, curl must refuse the self-signed certificate: the server really is TLS.
        out = curl("https://127.0.0.1:%d/healthz" % server.tls_port)
        check(out.returncode != 0, "curl trusted an unknown certificate")
        # The plain listener still serves beside it.
        status, _, _ = server.request("GET", "/healthz")
        check(status == 200, "plain healthz %d" % status)

        # An agent verifies a customer's phone token over HTTPS (admin creates the user first).
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops-1")
        agent = mint_token(ARGS.callsign, server.data_dir, "agent", "agent-1")
        user = json.dumps({"email": "tls-1@example.com", "phone_support": True})
        out = curl("--cacert", CERT, "-X", "PUT", "-H", "Authorization: Bearer " + admin,
                   "-H", "Content-Type: application/json", "--data", user, "-w", "\\n%{http_code}",
                   "https://127.0.0.1:%d/v1/users/tls-1" % server.tls_port)
        check(out.returncode == 0 and out.stdout.rsplit("\n", 1)[1] in ("200", "201"),
              "PUT user over https: %r %r" % (out.stdout, out.stderr))
        step = wait_for_step_start(PERIOD)
        code = phone_token_at(server.data_dir, "tls-1", step)
        out = curl("--cacert", CERT, "-H", "Authorization: Bearer " + agent, "-H", "Content-Type: application/json",
                   "--data", json.dumps({"user": "tls-1", "code": code}),
                   "https://127.0.0.1:%d/v1/verify" % server.tls_port)
        check(out.returncode == 0, "verify over https: %s" % out.stderr)
        check(json.loads(out.stdout) == {"valid": True, "method": "phone_token", "user": "tls-1"},
              "verify answer %r" % out.stdout)
        # The same code again is a replay, refused: the route ran for real, not a canned answer.
        out = curl("--cacert", CERT, "-H", "Authorization: Bearer " + agent, "-H", "Content-Type: application/json",
                   "--data", json.dumps({"user": "tls-1", "code": code}),
                   "https://127.0.0.1:%d/v1/verify" % server.tls_port)
        check(json.loads(out.stdout).get("valid") is False, "replay over https accepted: %r" % out.stdout)

        # The same answers over both listeners: the routes, errors and limits are shared.
        import http.client
        probes = [("GET", "/readyz", {}), ("GET", "/no-such-route", {}), ("POST", "/healthz", {}),
                  ("GET", "/v1/stream", {}), ("GET", "/v1/users?email=tls-1@example.com", {"Authorization": "Bearer " + agent}),
                  ("GET", "/v1/audit", {"Authorization": "Bearer " + agent}), ("GET", "/v1/audit", {}),
                  ("GET", "/healthz", {"X-Pad": "x" * 20000})]
        for method, path, headers in probes:
            plain_status, _, _ = server.request(method, path, headers=headers)
            tls_status, _ = https_status(server.tls_port, method, path, headers)
            check(plain_status == tls_status, "%s %s: %d over http, %d over https" % (method, path, plain_status,
                                                                                      tls_status))
        check([https_status(server.tls_port, m, p, h)[0] for m, p, h in probes[:4]] == [200, 404, 405, 426],
              "https statuses of the public probes")

        # Keep-alive: several requests on one TLS connection, and a 401 without a token.
        conn = http.client.HTTPSConnection("127.0.0.1", server.tls_port, timeout=30, context=client_context())
        try:
            for _ in range(3):
                status, body = https_json(server.tls_port, "GET", "/healthz", conn=conn)
                check(status == 200 and body["status"] == "ok", "keep-alive healthz %d %r" % (status, body))
            status, body = https_json(server.tls_port, "GET", "/v1/me/phone-token", conn=conn)
            check(status == 401, "phone-token without a token over https: %d" % status)
        finally:
            conn.close()
    finally:
        check(server.stop() == 0, "callsignd did not stop cleanly")
        server.cleanup()


WSS_CLIENT = r"""
const fs = require("fs");
const WebSocket = require("ws");
const [url, ca, jwt] = process.argv.slice(2);
const ws = new WebSocket(url, { ca: fs.readFileSync(ca), perMessageDeflate: false });
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "timeout" })); process.exit(2); }, 30000);
ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token: jwt })));
ws.on("message", (data) => {
  const m = JSON.parse(data.toString());
  if (m.type !== "token") return;
  clearTimeout(timer);
  console.log(JSON.stringify({ message: m, protocol: ws._socket.getProtocol() }));
  process.exit(0);
});
ws.on("close", (code) => { console.log(JSON.stringify({ closed: code })); process.exit(0); });
ws.on("error", (e) => { clearTimeout(timer); console.log(JSON.stringify({ error: String(e.message) })); process.exit(1); });
"""


def wss(port, jwt, ca=CERT):
    node = shutil.which("node")
    check(node is not None, "node is not installed (./tools/setup test)")
    check(os.path.isdir(os.path.join(HERE, "node_modules", "ws")),
          "npm ws is missing: run (cd tests/integration && npm ci) or ./tools/test")
    script = os.path.join(WORK, "wss_client.js")
    with open(script, "w") as f:
        f.write(WSS_CLIENT)
    env = dict(os.environ, NODE_PATH=os.path.join(HERE, "node_modules"))
    out = subprocess.run([node, script, "wss://127.0.0.1:%d/v1/stream" % port, ca, jwt],
                         capture_output=True, text=True, timeout=90, env=env)
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    check(lines, "wss client printed nothing (exit %d): %s" % (out.returncode, out.stderr))
    return out.returncode, json.loads(lines[0])


def test_wss_stream():
    server = Server(ARGS.callsignd, tls_config(), tls=True)
    try:
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops-1")
        status, _, body = server.json("PUT", "/v1/users/wss-1",
                                      json.dumps({"email": "wss-1@example.com", "phone_support": True}),
                                      json_headers(admin))
        check(status in (200, 201), "PUT user %d %r" % (status, body))
        customer = mint_token(ARGS.callsign, server.data_dir, "customer", "wss-1")
        code, result = wss(server.tls_port, customer)
        check(code == 0 and "message" in result, "wss client: %d %r" % (code, result))
        m = result["message"]
        check(m["token"] == phone_token_at(server.data_dir, "wss-1", m["step"]),
              "wss token %r differs from the derivation" % m)
        check(result["protocol"] in ("TLSv1.2", "TLSv1.3"), "wss protocol %r" % result["protocol"])
        # A bad token is refused over WSS too (the stream's own auth runs, not a shortcut).
        code, result = wss(server.tls_port, customer[:-4] + "AAAA")
        check(result.get("closed") == 1008, "a forged token was not refused with 1008: %r" % result)
        # A WSS client that does not trust the certificate never gets that far.
        code, result = wss(server.tls_port, customer, ca=os.path.join(WORK, "other-cert.pem"))
        check(code != 0 and "error" in result, "untrusted wss succeeded: %r" % result)
    finally:
        check(server.stop() == 0, "callsignd did not stop cleanly")
        server.cleanup()


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


def test_tls_only():
    server = Server(ARGS.callsignd, tls_config(tls_extra="plaintext = false"), tls=True, plaintext=False)
    try:
        check(server.port is None and not os.path.exists(server.port_file), "a plain port file was written")
        listening = [r for r in server.log_records() if r.get("msg") == "listening"]
        check([r.get("setting") for r in listening] == ["tls.listen"], "listeners %r" % listening)
        status, body = https_json(server.tls_port, "GET", "/healthz")
        check(status == 200 and body["status"] == "ok", "healthz over the only listener: %d %r" % (status, body))
    finally:
        check(server.stop() == 0, "callsignd did not stop cleanly")
        server.cleanup()


if __name__ == "__main__":
    for tool in ("openssl", "curl"):
        if shutil.which(tool) is None:
            print("FAIL: %s is not installed (./tools/setup test)" % tool)
            sys.exit(1)
    try:
        code = run_cases([
            ("https_health_and_verify", test_https_health_and_verify),
            ("wss_stream", test_wss_stream),
            ("versions", test_versions),
            ("bad_certificate_or_key", test_bad_certificate_or_key),
            ("plain_http_and_stall_on_tls_port", test_plain_http_and_stall_on_tls_port),
            ("connection_cap_on_tls_port", test_connection_cap_on_tls_port),
            ("tls_only", test_tls_only),
        ])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(code)
