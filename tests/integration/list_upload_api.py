"""What the list upload suites share (list_upload_memory_test.py, list_upload_refusals_test.py,
list_upload_progress_test.py): a raw-socket PUT /v1/admin/lists/{name}, response parsing, the
served list and leftover upload files, a fresh callsignd per case, and a small set built by the
real CLI (docs/lists.md)."""
import hashlib
import http.client
import os
import shutil
import socket
import tempfile

from harness import Server, bearer, check, cli, mint_token

MIB = 1024 * 1024
HEADER_SIZE = 128
# Small limits, and a short request timeout for the stall test.
SMALL = """
[limits]
request_timeout_ms = 3000
[lists]
max_upload_bytes = 1048576
max_text_bytes = 524288
"""


def connect(server, timeout=30):
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def upload_head(token, name, length=None, extra=""):
    lines = ["PUT /v1/admin/lists/%s HTTP/1.1" % name, "Host: callsign.test",
             "Content-Type: application/octet-stream"]
    if token is not None:
        lines.append("Authorization: Bearer %s" % token)
    lines.append("Content-Length: %d" % length if length is not None else "Transfer-Encoding: chunked")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock):
    """Parses one response (skipping no interim responses) from `sock`."""
    res = http.client.HTTPResponse(sock)
    res.begin()
    body = res.read()
    return res.status, dict((k.lower(), v) for k, v in res.getheaders()), body


def list_item(server, token, name):
    status, _, body = server.json("GET", "/v1/admin/lists", headers=bearer(token))
    check(status == 200, "GET /v1/admin/lists: %d" % status)
    return {item["name"]: item for item in body["lists"]}[name]


def leftovers(server):
    lists_dir = os.path.join(server.data_dir, "lists")
    if not os.path.isdir(lists_dir):
        return []
    return [n for n in os.listdir(lists_dir) if ".upload-" in n]


def with_server(args, config):
    """Runs the decorated test(server, admin token, work dir) against a fresh callsignd
    (args.callsignd, args.callsign) with `config`; checks that it exits cleanly."""
    def wrap(test):
        def run():
            server = Server(args.callsignd, config)
            work = tempfile.mkdtemp(prefix="callsign-upload-")
            try:
                token = mint_token(args.callsign, server.data_dir, "admin", "list-admin")
                test(server, token, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
                server.cleanup()  # SIGTERM; fails unless callsignd exits 0
        return run
    return wrap


def small_password_set(callsign, work, count=1000):
    """A set built by the real CLI (`callsign`) from HIBP lines; returns its bytes."""
    hibp = os.path.join(work, "pwned-%d.txt" % count)
    with open(hibp, "w") as f:
        for i in range(count):
            f.write("%s:%d\n" % (hashlib.sha1(("upload-%d" % i).encode()).hexdigest().upper(), i + 1))
    out = os.path.join(work, "pwned-%d.set" % count)
    built = cli(callsign, "breach", "import-hibp", "--in", hibp, "--out", out)
    check(built.returncode == 0, "import-hibp: %s" % built.stderr)
    with open(out, "rb") as f:
        return f.read()
