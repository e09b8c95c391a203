"""Integration: the [tls] HTTPS/WSS listener of the real callsignd serving, with a self-signed
certificate made by the openssl CLI (tls_harness.py). curl and Python's ssl over HTTPS (health,
an agent's verify of a phone token and its replay refused, the same statuses as the plain
listener, keep-alive), npm `ws` over WSS (auth, then a token equal to the derivation; a forged
token and an untrusted certificate refused), and plaintext = false (TLS only)."""
import json
import os
import shutil
import subprocess
import sys

from harness import Server, check, json_headers, mint_token, parse_args, phone_token_at, wait_for_step_start
from tls_harness import CERT, OTHER_CERT, PERIOD, WORK, client_context, curl, run_tls_cases, tls_config

ARGS, _ = parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))


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
        code, result = wss(server.tls_port, customer, ca=OTHER_CERT)
        check(code != 0 and "error" in result, "untrusted wss succeeded: %r" % result)
    finally:
        check(server.stop() == 0, "callsignd did not stop cleanly")
        server.cleanup()


def test_tls_only():
    server = Server(ARGS.callsignd, tls_config(tls_extra="plaintext = false"), tls=True, plaintext=False)
    try:
        check(server.port is None and not os.path.exists(server.port_file), "a plain port file was written")
        server.log_record("serving")  # logged after every listener: their records are in by then
        listening = [r for r in server.log_records() if r.get("msg") == "listening"]
        check([r.get("setting") for r in listening] == ["tls.listen"], "listeners %r" % listening)
        status, body = https_json(server.tls_port, "GET", "/healthz")
        check(status == 200 and body["status"] == "ok", "healthz over the only listener: %d %r" % (status, body))
    finally:
        check(server.stop() == 0, "callsignd did not stop cleanly")
        server.cleanup()


if __name__ == "__main__":
    sys.exit(run_tls_cases([
        ("https_health_and_verify", test_https_health_and_verify),
        ("wss_stream", test_wss_stream),
        ("tls_only", test_tls_only),
    ]))
