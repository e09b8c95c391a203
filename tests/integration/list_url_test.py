"""Integration: a list whose source is an HTTPS URL (docs/lists.md, "URL sources").

A private CA and server certificates made by the openssl CLI; a small Python HTTPS server on a
free loopback port that records every request's headers and answers 200/304/oversized/garbage
and can switch its certificate (one from another CA, a self-signed one, one for another name);
the real callsignd (port 0, temp data dir) with `url` + `ca_file`, stopped with SIGTERM and
required to exit 0. Checks the conditional GET, the swap, every refusal keeping the old version,
the sha256 pin, TLS verification, the 409 on upload, and that neither the URL's password nor
its query ever shows."""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from harness import Server, audit_entries, bearer, check, check_problem, mint_token, parse_args, run_cases

ARGS, _ = parse_args()
WORK = tempfile.mkdtemp(prefix="callsign-list-url-")
USER, PASSWORD, QUERY_SECRET = "reader", "pa55-s3cr3t", "q7-token-s3cr3t"
SECRETS = (PASSWORD, QUERY_SECRET, base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode())
MAX_BYTES = 4096

PROXIES_V1 = b"# v1\n192.0.2.1\n198.51.100.0/24\n"
PROXIES_V2 = b"# v2\n192.0.2.1\n198.51.100.0/24\n203.0.113.7\n"
DEVICES_GOOD = b"DEV-0001\nDEV-0002\n"
DEVICES_OTHER = b"DEV-0001\nDEV-0002\nDEV-EVIL\n"


def openssl(*args):
    out = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, cwd=WORK)
    check(out.returncode == 0, "openssl %s failed: %s" % (args[0], out.stderr))


def path(name):
    return os.path.join(WORK, name)


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path(name + "-key.pem"), "-out", path(name + ".pem"), "-days", "2",
            "-subj", "/CN=callsign test " + name, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")


def make_leaf(name, ca, san):
    """A server certificate for `san` signed by `ca` (or self-signed when ca is None)."""
    key, cert, csr = path(name + "-key.pem"), path(name + ".pem"), path(name + ".csr")
    ext = path(name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % san)
    if ca is None:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                "-out", cert, "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san)
        return cert, key
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=" + name)
    openssl("x509", "-req", "-in", csr, "-CA", path(ca + ".pem"), "-CAkey", path(ca + "-key.pem"),
            "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return cert, key


def server_context(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pair)
    return ctx


make_ca("ca")
make_ca("rogue-ca")
CONTEXTS = {
    "good": server_context(make_leaf("good", "ca", "IP:127.0.0.1,DNS:localhost")),
    "rogue": server_context(make_leaf("rogue", "rogue-ca", "IP:127.0.0.1,DNS:localhost")),
    "self-signed": server_context(make_leaf("self-signed", None, "IP:127.0.0.1,DNS:localhost")),
    "other-name": server_context(make_leaf("other-name", "ca", "DNS:lists.example")),
}


class ListServer(http.server.ThreadingHTTPServer):
    """Serves `resources` {path: [body, etag]} over TLS with the current context; records each
    request (path, headers, the status sent) and each failed handshake. Modes per path:
    "normal" (conditional, with Content-Length), "oversized" (a declared 100 KiB body),
    "oversized-undeclared" (100 KiB, no Content-Length, until close)."""

    daemon_threads = True

    def __init__(self, tls=True):
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = CONTEXTS["good"] if tls else None
        self.resources = {}
        self.modes = {}
        self.requests = []
        self.handshake_failures = 0
        self.lock = threading.Lock()

    def get_request(self):
        sock, address = self.socket.accept()
        if self.context is None:
            return sock, address
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        with self.lock:
            self.handshake_failures += 1  # callsignd refused our certificate (or hung up)

    def seen(self):
        with self.lock:
            return list(self.requests)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        target = self.path.split("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        body, etag = srv.resources.get(target, (None, None))
        mode = srv.modes.get(target, "normal")
        record = {"path": self.path, "headers": headers}
        if body is None:
            status = 404
        elif mode == "oversized":
            status = 200
        elif mode in ("oversized-undeclared", "chunked"):
            status = 200
        elif mode == "redirect":
            status = 302
        elif headers.get("if-none-match") == etag:
            status = 304
        else:
            status = 200
        record["status"] = status
        with srv.lock:
            srv.requests.append(record)
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "https://elsewhere.example/x?token=" + QUERY_SECRET)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "stall":
            RELEASE.wait(120)  # holds the response until the suite ends
            return
        self.send_response(status)
        self.send_header("ETag", etag or '"none"')
        self.send_header("Last-Modified", "Sun, 06 Dec 2026 10:00:00 GMT")
        if status == 304 or status == 404:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "oversized":
            payload = b"192.0.2.9\n" * 10240
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if mode == "oversized-undeclared":
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(100):
                    self.wfile.write(b"192.0.2.9\n" * 102)
            except OSError:
                pass  # callsignd stopped reading at its limit
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


RELEASE = threading.Event()
LISTS = ListServer()
threading.Thread(target=LISTS.serve_forever, daemon=True).start()
PORT = LISTS.server_address[1]
BASE = "https://127.0.0.1:%d" % PORT


def serve(target, body, etag, mode="normal"):
    LISTS.resources[target] = (body, etag)
    LISTS.modes[target] = mode


serve("/open_proxies.ipset", PROXIES_V1, '"p1"')
serve("/devices.txt", DEVICES_OTHER, '"d0"')  # not the pinned sha256: refused at start-up

CONFIG = """
[lists.open_proxies]
url = "https://%s:%s@127.0.0.1:%d/open_proxies.ipset?token=%s"
ca_file = "%s"
max_bytes = %d
refresh_seconds = 0
timeout_seconds = 20

[lists.managed_devices]
url = "%s/devices.txt"
ca_file = "%s"
sha256 = "%s"
refresh_seconds = 0
""" % (USER, PASSWORD, PORT, QUERY_SECRET, path("ca.pem"), MAX_BYTES, BASE, path("ca.pem"),
       hashlib.sha256(DEVICES_GOOD).hexdigest().upper())

STATE = {}


def admin():
    return STATE["token"]


def lists():
    status, _, body = STATE["server"].json("GET", "/v1/admin/lists", headers=bearer(admin()))
    check(status == 200, "GET /v1/admin/lists: %d %r" % (status, body))
    return {item["name"]: item for item in body["lists"]}


def reload(name):
    return STATE["server"].json("POST", "/v1/admin/lists/%s/reload" % name, headers=bearer(admin()))


def requests_for(target):
    return [r for r in LISTS.seen() if r["path"].split("?")[0] == target]


def wait_for(what, condition, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def no_secret(text, where):
    for secret in SECRETS:
        check(secret not in text, "%s shows a secret of the URL: %r" % (where, text[:400]))


def leftovers():
    directory = os.path.join(STATE["server"].data_dir, "lists")
    return [n for n in os.listdir(directory) if ".upload-" in n] if os.path.isdir(directory) else []


def test_start_and_first_fetch():
    STATE["server"] = Server(ARGS.callsignd, CONFIG)
    STATE["token"] = mint_token(ARGS.callsign, STATE["server"].data_dir, "admin", "list-admin")
    item = wait_for("the first fetch of open_proxies", lambda: (lambda i: i if i["version"] == 1 else None)(
        lists()["open_proxies"]))
    check(item["entries"] == 2 and item["sha256"] == hashlib.sha256(PROXIES_V1).hexdigest(), "%r" % item)
    check(item["source"] == BASE + "/open_proxies.ipset", "source shows more than the URL's origin and path: %r"
          % item["source"])
    check(item["etag"] == '"p1"' and item["last_modified"] == "Sun, 06 Dec 2026 10:00:00 GMT", "%r" % item)
    check(item["last_error"] is None and item["last_checked"] is not None, "%r" % item)
    first = requests_for("/open_proxies.ipset")[0]
    check("if-none-match" not in first["headers"] and "if-modified-since" not in first["headers"],
          "the first GET was conditional: %r" % first)
    expected = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    check(first["headers"].get("authorization") == expected, "the userinfo was not sent as Basic auth")
    check(first["path"] == "/open_proxies.ipset?token=" + QUERY_SECRET, "request target %r" % first["path"])
    # The pinned list refused the other bytes at start-up and serves nothing.
    devices = wait_for("the first fetch of managed_devices",
                       lambda: (lambda i: i if i["last_error"] and "sha256" in i["last_error"] else None)(
                           lists()["managed_devices"]))
    check(devices["version"] == 0 and devices["etag"] is None, "%r" % devices)


def test_unchanged_is_a_304():
    before = lists()["open_proxies"]
    count = len(requests_for("/open_proxies.ipset"))
    status, _, body = reload("open_proxies")
    check(status == 200 and body["changed"] is False, "reload: %d %r" % (status, body))
    asked = requests_for("/open_proxies.ipset")[count:]
    check(len(asked) == 1 and asked[0]["status"] == 304, "requests: %r" % asked)
    check(asked[0]["headers"].get("if-none-match") == '"p1"', "If-None-Match: %r" % asked[0]["headers"])
    check(asked[0]["headers"].get("if-modified-since") == "Sun, 06 Dec 2026 10:00:00 GMT", "%r" % asked[0])
    after = lists()["open_proxies"]
    check(after["version"] == before["version"] == 1 and after["sha256"] == before["sha256"], "%r" % after)
    check(after["last_error"] is None and after["last_checked"] >= before["last_checked"], "%r" % after)


def test_changed_file_swaps():
    serve("/open_proxies.ipset", PROXIES_V2, '"p2"')
    status, _, body = reload("open_proxies")
    check(status == 200 and body["changed"] is True and body["list"]["version"] == 2, "%r" % body)
    item = lists()["open_proxies"]
    check(item["entries"] == 3 and item["sha256"] == hashlib.sha256(PROXIES_V2).hexdigest(), "%r" % item)
    check(item["etag"] == '"p2"', "%r" % item)
    last = requests_for("/open_proxies.ipset")[-1]
    check(last["headers"].get("if-none-match") == '"p1"' and last["status"] == 200, "%r" % last)


def expect_refusal(mode_body_etag, fragment, expected_status, names_url=True):
    body_, etag, mode = mode_body_etag
    serve("/open_proxies.ipset", body_, etag, mode)
    status, headers, raw = STATE["server"].request("POST", "/v1/admin/lists/open_proxies/reload",
                                                   headers=bearer(admin()))
    problem = check_problem(status, headers, raw, expected_status, fragment)
    no_secret(problem["detail"], "the reply")
    item = lists()["open_proxies"]
    check(item["version"] == 2 and item["sha256"] == hashlib.sha256(PROXIES_V2).hexdigest(),
          "a refused download replaced the list: %r" % item)
    check(fragment in (item["last_error"] or ""), "last_error %r" % item["last_error"])
    no_secret(item["last_error"], "last_error")
    check(not names_url or BASE + "/open_proxies.ipset" in item["last_error"],
          "last_error does not name the URL: %r" % item["last_error"])
    check(not leftovers(), "upload files left behind: %r" % leftovers())
    return item


def test_oversized_declared_keeps_the_old_list():
    expect_refusal((PROXIES_V2, '"big"', "oversized"), "larger than the list's limit of %d" % MAX_BYTES, 422)


def test_oversized_streamed_keeps_the_old_list():
    expect_refusal((PROXIES_V2, '"big2"', "oversized-undeclared"), "larger than the list's limit of %d" % MAX_BYTES,
                   422)


def test_invalid_content_keeps_the_old_list_and_is_fetched_again():
    expect_refusal((b"192.0.2.1\nnot-an-address\n", '"bad"', "normal"), "line 2", 422, names_url=False)
    # The refused download's ETag was not kept: the next GET asks with the serving one, and the
    # server sends the bad bytes again instead of a 304 that would clear the error.
    status, _, _ = reload("open_proxies")
    check(status == 422, "second reload: %d" % status)
    last = requests_for("/open_proxies.ipset")[-1]
    check(last["headers"].get("if-none-match") == '"p2"' and last["status"] == 200, "%r" % last)


def test_redirect_is_refused():
    expect_refusal((PROXIES_V2, '"p2"', "redirect"), "redirects are not followed", 503)
    check("elsewhere" not in lists()["open_proxies"]["last_error"], "the Location was echoed")


def test_chunked_body():
    serve("/open_proxies.ipset", PROXIES_V2, '"p2"', "chunked")
    status, _, body = reload("open_proxies")
    check(status == 200 and body["changed"] is False and body["list"]["last_error"] is None, "%r" % body)
    check(body["list"]["sha256"] == hashlib.sha256(PROXIES_V2).hexdigest(), "%r" % body)
    check(requests_for("/open_proxies.ipset")[-1]["status"] == 200, "not a full download")
    serve("/open_proxies.ipset", PROXIES_V2, '"p2"')


def test_plain_http_when_allowed():
    plain = ListServer(tls=False)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        plain.resources["/devices.txt"] = (DEVICES_GOOD, '"h1"')
        server = Server(ARGS.callsignd, '[lists.managed_devices]\nurl = "http://127.0.0.1:%d/devices.txt"\n'
                        'allow_plain_http = true\nrefresh_seconds = 0\n' % plain.server_address[1])
        try:
            token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")

            def loaded():
                status, _, body = server.json("GET", "/v1/admin/lists", headers=bearer(token))
                item = {i["name"]: i for i in body["lists"]}["managed_devices"]
                return item if item["version"] == 1 else None
            item = wait_for("the plain-HTTP fetch", loaded)
            check(item["entries"] == 2 and item["etag"] == '"h1"', "%r" % item)
            check(item["source"] == "http://127.0.0.1:%d/devices.txt" % plain.server_address[1], "%r" % item)
        finally:
            server.cleanup()  # SIGTERM; fails unless callsignd exits 0
    finally:
        plain.shutdown()


def test_sha256_pin():
    serve("/devices.txt", DEVICES_GOOD, '"d1"')
    status, _, body = reload("managed_devices")
    check(status == 200 and body["list"]["version"] == 1 and body["list"]["entries"] == 2, "%r" % body)
    serve("/devices.txt", DEVICES_OTHER, '"d2"')
    status, headers, raw = STATE["server"].request("POST", "/v1/admin/lists/managed_devices/reload",
                                                   headers=bearer(admin()))
    check_problem(status, headers, raw, 422, "is not the configured sha256")
    item = lists()["managed_devices"]
    check(item["version"] == 1 and item["sha256"] == hashlib.sha256(DEVICES_GOOD).hexdigest() and
          item["etag"] == '"d1"', "a download that did not match sha256 serves: %r" % item)
    check("sha256" in item["last_error"], "%r" % item)
    check(not leftovers(), "upload files left behind: %r" % leftovers())


def test_tls_refusals_keep_the_old_list():
    serve("/open_proxies.ipset", PROXIES_V2, '"p2"')
    for name, fragment in (("rogue", "unable to get local issuer certificate"),
                           ("self-signed", "self-signed certificate"),
                           ("other-name", "mismatch")):
        LISTS.context = CONTEXTS[name]
        count = len(LISTS.seen())
        status, headers, raw = STATE["server"].request("POST", "/v1/admin/lists/open_proxies/reload",
                                                       headers=bearer(admin()))
        try:
            problem = check_problem(status, headers, raw, 503, "certificate was refused")
        except AssertionError as exc:
            raise AssertionError("the %s certificate: %s" % (name, exc)) from None
        check(fragment in problem["detail"], "%s: %r" % (name, problem["detail"]))
        check(len(LISTS.seen()) == count, "%s: a request was sent over an unverified connection" % name)
        item = lists()["open_proxies"]
        check(item["version"] == 2 and fragment in item["last_error"], "%s: %r" % (name, item))
    LISTS.context = CONTEXTS["good"]
    status, _, body = reload("open_proxies")
    check(status == 200 and body["changed"] is False and body["list"]["last_error"] is None, "%r" % body)
    check(requests_for("/open_proxies.ipset")[-1]["status"] == 304, "back on the good certificate: not a 304")


def test_upload_to_a_url_list_is_409():
    status, headers, raw = STATE["server"].request(
        "PUT", "/v1/admin/lists/open_proxies", b"192.0.2.77\n",
        bearer(admin(), {"Content-Type": "application/octet-stream"}))
    check_problem(status, headers, raw, 409, "loaded from its URL; change the source, not the copy")
    check(lists()["open_proxies"]["version"] == 2, "the upload changed the list")
    # A file list still takes uploads.
    status, _, raw = STATE["server"].request("PUT", "/v1/admin/lists/exposed_passwords", b"",
                                             bearer(admin(), {"Content-Type": "application/octet-stream"}))
    check(status != 409, "a file list refused an upload with 409: %r" % raw)


def test_no_secret_anywhere():
    server = STATE["server"]
    entries = audit_entries(server, admin())
    reloads = [e for e in entries if e["action"] == "lists.reload"]
    check(any(e["outcome"] == "unchanged" for e in reloads) and any(e["outcome"] == "rejected" for e in reloads),
          "lists.reload audit entries: %r" % reloads[-3:])
    for e in entries:
        no_secret(repr(e), "an audit entry")
    no_secret("\n".join(server.lines + server.stderr), "the log")
    no_secret(repr(lists()), "GET /v1/admin/lists")
    server.cleanup()  # SIGTERM; fails unless callsignd exits 0


def start_refused(config):
    """callsignd with `config` must refuse to start; returns its output."""
    tmp = tempfile.mkdtemp(prefix="callsign-list-url-config-")
    try:
        with open(os.path.join(tmp, "callsign.toml"), "w") as f:
            f.write(config)
        out = subprocess.run([ARGS.callsignd, "--data-dir", os.path.join(tmp, "data"), "--listen", "127.0.0.1:0",
                              "--config", os.path.join(tmp, "callsign.toml")],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode != 0, "callsignd started with %r" % config)
        return out.stdout + out.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_config_refusals():
    text = start_refused('[lists.open_proxies]\npath = "/tmp/x"\nurl = "%s/x"\n' % BASE)
    check("set either path or url, not both" in text, text)
    text = start_refused('[lists.open_proxies]\nurl = "http://%s:%s@127.0.0.1:%d/x"\n' % (USER, PASSWORD, PORT))
    check("allow_plain_http" in text, text)
    no_secret(text, "the config error")
    text = start_refused('[lists.open_proxies]\nurl = "%s/x"\nsha256 = "abc"\n' % BASE)
    check("64 hex digits" in text, text)


def test_sigterm_does_not_wait_for_a_stalled_fetch():
    """A list server that never answers: the refresh thread's fetch (timeout_seconds = 300) must
    not hold up SIGTERM; callsignd exits 0 well within its 10 s shutdown timeout."""
    serve("/stall.txt", b"x\n", '"s"', "stall")
    server = Server(ARGS.callsignd, '[lists.managed_devices]\nurl = "%s/stall.txt"\nca_file = "%s"\n'
                    'timeout_seconds = 300\n' % (BASE, path("ca.pem")))
    wait_for("the fetch to reach the list server", lambda: requests_for("/stall.txt"))
    started = time.time()
    server.cleanup()  # SIGTERM; fails unless callsignd exits 0
    elapsed = time.time() - started
    check(elapsed < 8, "callsignd took %.1f s to stop while a fetch was stalled" % elapsed)


def test_sigterm_ends_an_admins_stalled_reload():
    """An admin's reload whose download stalls holds a worker thread and a busy connection: SIGTERM
    ends the download at once, so callsignd neither waits out the drain's 10 s for that connection
    nor the fetch's 300 s for the worker pool, and still exits 0."""
    serve("/slow.txt", DEVICES_GOOD, '"g1"')
    server = Server(ARGS.callsignd, '[lists.managed_devices]\nurl = "%s/slow.txt"\nca_file = "%s"\n'
                    'timeout_seconds = 300\nrefresh_seconds = 0\n' % (BASE, path("ca.pem")))
    token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")
    wait_for("the start-up fetch", lambda: any(r["status"] == 200 for r in requests_for("/slow.txt")))
    serve("/slow.txt", DEVICES_GOOD, '"g2"', "stall")
    answer = {}

    def reload_in_background():
        try:
            answer["status"] = server.json("POST", "/v1/admin/lists/managed_devices/reload",
                                           headers=bearer(token))[0]
        except OSError as e:  # the connection closed without a reply
            answer["error"] = repr(e)

    asking = threading.Thread(target=reload_in_background, daemon=True)
    asking.start()
    wait_for("the admin's reload to reach the list server", lambda: len(requests_for("/slow.txt")) >= 2)
    started = time.time()
    status = server.stop()  # SIGTERM
    elapsed = time.time() - started
    check(status == 0, "callsignd exited %r" % status)
    asking.join(10)
    check(elapsed < 8, "callsignd took %.1f s to stop while an admin's reload was stalled" % elapsed)
    check(answer.get("status") == 503, "the stalled reload did not answer 503 at the shutdown: %r" % answer)
    out = subprocess.run([ARGS.callsign, "audit", "export", "--data-dir", server.data_dir], capture_output=True,
                         text=True, timeout=60)
    check(out.returncode == 0, "audit export: %s" % out.stderr)
    reloads = [json.loads(line) for line in out.stdout.splitlines() if '"action":"lists.reload"' in line]
    check(any(e["actor_type"] == "admin" and e["details"].get("list") == "managed_devices" and e["outcome"] != "reloaded"
              for e in reloads), "the interrupted reload is not journaled: %r" % reloads)
    server.cleanup()


def test_an_unreachable_or_stalled_source_keeps_the_old_list_and_is_retried():
    """A list server that refuses connections, or stalls past timeout_seconds: the old version
    keeps serving with last_error naming the URL, an admin's reload answers 503 within about the
    timeout, and the next refresh interval fetches again by itself once the server answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once closed
    serve("/flaky.txt", DEVICES_GOOD, '"f1"')
    server = Server(ARGS.callsignd, '[lists.managed_devices]\nurl = "%s/flaky.txt"\nca_file = "%s"\n'
                    'timeout_seconds = 1\nrefresh_seconds = 1\n\n[lists.open_proxies]\n'
                    'url = "https://127.0.0.1:%d/p.ipset"\nca_file = "%s"\ntimeout_seconds = 1\nrefresh_seconds = 1\n'
                    % (BASE, path("ca.pem"), closed, path("ca.pem")))
    try:
        token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")

        def items():
            status, _, body = server.json("GET", "/v1/admin/lists", headers=bearer(token))
            check(status == 200, "GET /v1/admin/lists: %d" % status)
            return {item["name"]: item for item in body["lists"]}

        wait_for("the first fetch", lambda: items()["managed_devices"]["version"] == 1, 20)
        # Refused: nothing loaded, last_error names the URL, a reload answers 503.
        refused = wait_for("the refused fetch's last_error",
                           lambda: (lambda i: i if i["last_error"] else None)(items()["open_proxies"]), 20)
        check(refused["version"] == 0 and "127.0.0.1:%d" % closed in refused["last_error"], "%r" % refused)
        status, headers, raw = server.request("POST", "/v1/admin/lists/open_proxies/reload", headers=bearer(token))
        check_problem(status, headers, raw, 503)
        # Stalled: the reload gives up after the timeout, the old version serves.
        serve("/flaky.txt", DEVICES_OTHER, '"f2"', "stall")
        started = time.time()
        status, headers, raw = server.request("POST", "/v1/admin/lists/managed_devices/reload",
                                              headers=bearer(token))
        check_problem(status, headers, raw, 503)
        check(time.time() - started < 8, "the stalled reload took %.1f s with timeout_seconds = 1" %
              (time.time() - started))
        item = items()["managed_devices"]
        check(item["version"] == 1 and item["sha256"] == hashlib.sha256(DEVICES_GOOD).hexdigest() and
              BASE + "/flaky.txt" in (item["last_error"] or ""), "the old version serves: %r" % item)
        # The server answers again: the next interval fetches without anyone asking.
        serve("/flaky.txt", DEVICES_OTHER, '"f2"')
        wait_for("the next interval's fetch",
                 lambda: (lambda i: i["version"] == 2 and i["last_error"] is None and
                          i["sha256"] == hashlib.sha256(DEVICES_OTHER).hexdigest())(items()["managed_devices"]), 20)
        check(server.stop() == 0, "callsignd exited 0")
    finally:
        server.cleanup()


def main():
    try:
        code = run_cases([
            ("start-up fetch, Basic auth from the userinfo, redacted source", test_start_and_first_fetch),
            ("unchanged: a conditional GET answered 304 keeps the version", test_unchanged_is_a_304),
            ("a changed file swaps", test_changed_file_swaps),
            ("declared oversized body: refused, old list serves", test_oversized_declared_keeps_the_old_list),
            ("streamed oversized body: refused, old list serves", test_oversized_streamed_keeps_the_old_list),
            ("invalid content: refused and not cached", test_invalid_content_keeps_the_old_list_and_is_fetched_again),
            ("a redirect is refused, not followed", test_redirect_is_refused),
            ("a chunked body", test_chunked_body),
            ("sha256 pin: a mismatch is refused", test_sha256_pin),
            ("another CA, self-signed, another name: TLS refused", test_tls_refusals_keep_the_old_list),
            ("an upload to a URL list gets 409", test_upload_to_a_url_list_is_409),
            ("no URL secret in audit, log or status; exits 0", test_no_secret_anywhere),
            ("config refusals", test_config_refusals),
            ("SIGTERM does not wait for a stalled fetch", test_sigterm_does_not_wait_for_a_stalled_fetch),
            ("SIGTERM ends an admin's stalled reload", test_sigterm_ends_an_admins_stalled_reload),
            ("unreachable or stalled source: old list, 503, retried at the next interval",
             test_an_unreachable_or_stalled_source_keeps_the_old_list_and_is_retried),
            ("plain http:// with allow_plain_http", test_plain_http_when_allowed),
        ])
    finally:
        RELEASE.set()
        LISTS.shutdown()
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
