"""Integration: PUT /v1/admin/lists/{name} streams its body to disk (docs/lists.md).

Against the real callsignd: a ~300 MiB set file uploads while the server's memory stays flat
(VmHWM and RssAnon from /proc); callers refused from the header alone (401, 403, 404, 413) get
their answer without the body being read and without `100 Continue`; a chunked body over the
limit, a client that disconnects and one that stalls leave no upload file behind and the old
list serving; a slow upload that keeps making progress outlives the request timeout."""
import hashlib
import http.client
import os
import shutil
import socket
import struct
import tempfile
import threading
import time

from harness import Server, audit_entries, bearer, check, check_problem, cli, mint_token, parse_args, run_cases

ARGS, _ = parse_args()
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


def proc_status(pid):
    """VmHWM, VmRSS and RssAnon of a process, in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon"):
                out[key] = int(value.split()[0]) * 1024
    return out


def password_set(path, count):
    """Writes a valid exposed-passwords set file (hash_set_format.hpp, version 2) of `count`
    ascending 8-byte entries followed by its page index; returns the SHA-256 of the whole file."""
    stride = (1 << 64) // (count + 1)
    entry = lambda i: (i + 1) * stride  # noqa: E731  the i-th entry's value
    checksum = hashlib.sha256()  # entries, then the page index
    block = 1 << 20
    with open(path, "wb") as f:
        f.write(b"\0" * HEADER_SIZE)
        for start in range(0, count, block):
            n = min(block, count - start)
            data = struct.pack(">%dQ" % n, *[entry(i) for i in range(start, start + n)])
            checksum.update(data)
            f.write(data)
        # Every 4 KiB page of the file that holds an entry: the first entry starting in it.
        last_page = (HEADER_SIZE + (count - 1) * 8) // 4096
        firsts = [0] + [(page * 4096 - HEADER_SIZE) // 8 for page in range(1, last_page + 1)]
        index = struct.pack(">%dQ" % len(firsts), *[entry(i) for i in firsts])
        checksum.update(index)
        f.write(index)
        header = (b"CSHSET\r\n" + struct.pack("<IIIIQ", 2, 2, 8, 4096, count) + b"\0" * 8 + checksum.digest())
        f.seek(0)
        f.write(header + b"\0" * (HEADER_SIZE - len(header)))
    whole = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(4 * MIB), b""):
            whole.update(piece)
    return whole.hexdigest()


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


def read_until_close(sock):
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def split_raw(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict((l.split(":", 1)[0].strip().lower(), l.split(":", 1)[1].strip()) for l in lines[1:] if ":" in l)
    return status, headers, body


def list_item(server, token, name):
    status, _, body = server.json("GET", "/v1/admin/lists", headers=bearer(token))
    check(status == 200, "GET /v1/admin/lists: %d" % status)
    return {item["name"]: item for item in body["lists"]}[name]


def leftovers(server):
    lists_dir = os.path.join(server.data_dir, "lists")
    if not os.path.isdir(lists_dir):
        return []
    return [n for n in os.listdir(lists_dir) if ".upload-" in n]


def wait_for_no_leftovers(server, deadline_s=60):
    deadline = time.time() + deadline_s
    while leftovers(server) and time.time() < deadline:
        time.sleep(0.05)
    return leftovers(server)


def healthy(server):
    status, _, _ = server.request("GET", "/healthz")
    return status == 200


def with_server(config):
    def wrap(test):
        def run():
            server = Server(ARGS.callsignd, config)
            work = tempfile.mkdtemp(prefix="callsign-upload-")
            try:
                token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")
                test(server, token, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
                code = server.stop()
                server.cleanup()
                check(code == 0, "callsignd exited with %s" % code)
        return run
    return wrap


def small_password_set(work, count=1000):
    """A set built by the real CLI from HIBP lines; returns its bytes."""
    hibp = os.path.join(work, "pwned-%d.txt" % count)
    with open(hibp, "w") as f:
        for i in range(count):
            f.write("%s:%d\n" % (hashlib.sha1(("upload-%d" % i).encode()).hexdigest().upper(), i + 1))
    out = os.path.join(work, "pwned-%d.set" % count)
    built = cli(ARGS.callsign, "breach", "import-hibp", "--in", hibp, "--out", out)
    check(built.returncode == 0, "import-hibp: %s" % built.stderr)
    with open(out, "rb") as f:
        return f.read()


@with_server("")
def test_a_large_set_streams_with_flat_memory(server, token, work):
    # Warm up the upload path once (worker threads, allocator pools), then measure.
    small = small_password_set(work)
    status, _, raw = server.request("PUT", "/v1/admin/lists/exposed_passwords", small,
                                    bearer(token, {"Content-Type": "application/octet-stream"}))
    check(status == 200, "warm-up upload: %d %r" % (status, raw[:300]))

    count = 300 * MIB // 8
    path = os.path.join(work, "large.set")
    file_sha256 = password_set(path, count)
    size = os.path.getsize(path)
    pid = server.proc.pid
    before = proc_status(pid)
    peak_anon = [before["RssAnon"]]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak_anon[0] = max(peak_anon[0], proc_status(pid)["RssAnon"])
            except OSError:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sock = connect(server, timeout=600)
    try:
        sock.sendall(upload_head(token, "exposed_passwords", size))
        with open(path, "rb") as f:
            for piece in iter(lambda: f.read(MIB), b""):
                sock.sendall(piece)
        status, headers, raw = read_response(sock)
    finally:
        sock.close()
        done.set()
        sampler.join()
    after = proc_status(pid)
    hwm_growth = after["VmHWM"] - before["VmHWM"]
    anon_growth = peak_anon[0] - before["RssAnon"]
    print("upload %d bytes: VmHWM %d -> %d (+%.1f MiB), peak RssAnon +%.1f MiB" %
          (size, before["VmHWM"], after["VmHWM"], hwm_growth / MIB, anon_growth / MIB))
    check(status == 200, "large upload: %d %r" % (status, raw[:300]))
    # A body held in memory would need at least `size` (300 MiB).
    check(hwm_growth < 64 * MIB, "VmHWM grew by %d bytes for a %d-byte upload" % (hwm_growth, size))
    check(anon_growth < 64 * MIB, "RssAnon peaked %d bytes higher during a %d-byte upload" % (anon_growth, size))
    item = list_item(server, token, "exposed_passwords")
    check(item["version"] == 2 and item["entries"] == count, "after the large upload: %r" % item)
    check(not leftovers(server), "upload files left: %r" % leftovers(server))
    check(os.path.getsize(item["source"]) == size, "the source is not the uploaded file")
    entry = [e for e in audit_entries(server, token) if e["action"] == "lists.upload"][-1]
    check(entry["outcome"] == "reloaded" and entry["details"]["bytes"] == str(size), "audit %r" % entry)
    check(entry["details"]["upload_sha256"] == file_sha256, "audit upload_sha256 %r" % entry["details"])


@with_server(SMALL)
def test_refusals_come_before_the_body(server, token, work):
    agent = mint_token(ARGS.callsign, server.data_dir, "agent", "agent-1")
    # Expect: 100-continue without a token: 401 and never "100 Continue"; the declared size is
    # over the limit too, but an unauthenticated caller learns nothing about limits.
    for length in (500000, 50 * MIB):
        sock = connect(server, timeout=10)
        try:
            sock.sendall(upload_head(None, "open_proxies", length, "Expect: 100-continue"))
            raw = read_until_close(sock)
        finally:
            sock.close()
        check(raw.startswith(b"HTTP/1.1 401"), "no token (Content-Length %d): %r" % (length, raw[:200]))
        status, headers, body = split_raw(raw)
        check_problem(status, headers, body, 401)
        check(headers.get("connection", "").lower() == "close", "a refused upload must close: %r" % headers)

    # Wrong role, body already flowing: 403 arrives after 64 KiB of a declared 900,000 bytes,
    # so the server answered without waiting for (or storing) the body.
    for who, name, expected in ((agent, "open_proxies", 403), (token, "no_such_list", 404)):
        sock = connect(server, timeout=10)
        try:
            sock.sendall(upload_head(who, name, 900000) + b"1.2.3.4\n" * 8192)
            raw = read_until_close(sock)
        finally:
            sock.close()
        status, headers, body = split_raw(raw)
        check_problem(status, headers, body, expected)
    check(not leftovers(server), "refused uploads left files: %r" % leftovers(server))

    # Declared too large for the admin: 413 at once, before any body byte is sent.
    for name, length in (("exposed_passwords", MIB + 1), ("open_proxies", 524289)):
        sock = connect(server, timeout=10)
        try:
            sock.sendall(upload_head(token, name, length, "Expect: 100-continue"))
            raw = read_until_close(sock)
        finally:
            sock.close()
        status, headers, body = split_raw(raw)
        check_problem(status, headers, body, 413, "limit")
    check(not leftovers(server), "413 uploads left files: %r" % leftovers(server))
    check(healthy(server), "server unhealthy after refusals")


@with_server(SMALL)
def test_over_limit_disconnect_and_stall_keep_the_old_list(server, token, work):
    base = small_password_set(work)
    status, _, raw = server.request("PUT", "/v1/admin/lists/exposed_passwords", base,
                                    bearer(token, {"Content-Type": "application/octet-stream"}))
    check(status == 200, "base upload: %d %r" % (status, raw[:300]))
    serving = list_item(server, token, "exposed_passwords")
    check(serving["version"] == 1 and serving["entries"] == 1000, "base %r" % serving)

    def unchanged(what):
        item = list_item(server, token, "exposed_passwords")
        check(item["version"] == 1 and item["sha256"] == serving["sha256"], "%s changed the list: %r" % (what, item))
        with open(item["source"], "rb") as f:
            check(f.read() == base, "%s changed the source file" % what)

    # Chunked past max_upload_bytes (1 MiB): 413 mid-way, the partial file removed.
    sock = connect(server, timeout=30)
    try:
        sock.sendall(upload_head(token, "exposed_passwords"))
        piece = b"\xab" * 65536
        sent = 0
        try:
            while sent < 3 * MIB // 2:
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close once it has answered
        raw = read_until_close(sock)
    finally:
        sock.close()
    status, headers, body = split_raw(raw)
    check_problem(status, headers, body, 413)
    check(not wait_for_no_leftovers(server), "over-limit upload left files: %r" % leftovers(server))
    unchanged("a chunked upload over the limit")

    # Client disconnect mid-upload.
    sock = connect(server)
    sock.sendall(upload_head(token, "exposed_passwords", 900000) + base[:HEADER_SIZE] + b"\x01" * 300000)
    sock.close()
    check(not wait_for_no_leftovers(server), "a disconnected upload left files: %r" % leftovers(server))
    unchanged("a disconnected upload")
    deadline = time.time() + 30
    abandoned = []
    while not abandoned and time.time() < deadline:
        abandoned = [r for r in server.log_records() if r.get("msg") == "list upload abandoned"]
        time.sleep(0.05)
    check(abandoned and abandoned[-1].get("list") == "exposed_passwords", "no log line for the abandoned upload")

    # A stalled client: cut off by the request timeout (3 s), the file removed.
    sock = connect(server, timeout=60)
    try:
        sock.sendall(upload_head(token, "exposed_passwords", 900000) + base[:4096])
        raw = read_until_close(sock)  # returns when the server closes the connection
    finally:
        sock.close()
    check(not raw.startswith(b"HTTP/1.1 2"), "a stalled upload was answered %r" % raw[:100])
    check(not wait_for_no_leftovers(server), "a stalled upload left files: %r" % leftovers(server))
    unchanged("a stalled upload")
    check(healthy(server), "server unhealthy after broken uploads")


@with_server(SMALL)
def test_slow_progress_and_100_continue(server, token, work):
    content = small_password_set(work, 1500)
    # Sent over ~4 s, longer than the 3 s request timeout, but never idle for long: the
    # timeout applies per read, so the upload lives.
    sock = connect(server, timeout=60)
    try:
        sock.sendall(upload_head(token, "exposed_passwords", len(content)))
        step = len(content) // 16 + 1
        for start in range(0, len(content), step):
            sock.sendall(content[start:start + step])
            time.sleep(0.25)
        status, _, raw = read_response(sock)
    finally:
        sock.close()
    check(status == 200, "slow upload: %d %r" % (status, raw[:300]))
    check(list_item(server, token, "exposed_passwords")["entries"] == 1500, "slow upload not installed")

    # Expect: 100-continue from an admin: "100 Continue" first, then the body, then 200; the
    # connection stays usable for the next request.
    content = small_password_set(work, 2000)
    sock = connect(server, timeout=60)
    try:
        sock.sendall(upload_head(token, "exposed_passwords", len(content), "Expect: 100-continue"))
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(1)
            check(chunk, "closed before 100 Continue")
            interim += chunk
        check(interim.startswith(b"HTTP/1.1 100"), "interim response %r" % interim)
        sock.sendall(content)
        status, _, raw = read_response(sock)
        check(status == 200, "100-continue upload: %d %r" % (status, raw[:300]))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: callsign.test\r\n\r\n")
        status, _, _ = read_response(sock)
        check(status == 200, "keep-alive after an upload: %d" % status)
    finally:
        sock.close()
    check(list_item(server, token, "exposed_passwords")["entries"] == 2000, "100-continue upload not installed")
    check(not leftovers(server), "upload files left: %r" % leftovers(server))


def test_shutdown_mid_upload_leaves_nothing():
    """SIGTERM while an upload is still making progress: the server drains (shutdown_timeout),
    exits cleanly, and no upload file remains."""
    server = Server(ARGS.callsignd, SMALL.replace("request_timeout_ms = 3000",
                                                  "request_timeout_ms = 3000\nshutdown_timeout_ms = 2000"))
    stop = threading.Event()
    try:
        token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")
        sock = connect(server, timeout=60)
        sock.sendall(upload_head(token, "exposed_passwords", 900000) + b"\0" * 1000)

        def trickle():
            try:
                while not stop.is_set():
                    sock.sendall(b"\0" * 100)
                    time.sleep(0.2)
            except OSError:
                pass

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        deadline = time.time() + 60
        while not leftovers(server) and time.time() < deadline:
            time.sleep(0.05)
        check(leftovers(server), "the upload file never appeared")
        code = server.stop()
        stop.set()
        sender.join()
        sock.close()
        check(code == 0, "callsignd exited with %s" % code)
        check(not leftovers(server), "shutdown left upload files: %r" % leftovers(server))
    finally:
        stop.set()
        server.cleanup()


if __name__ == "__main__":
    raise SystemExit(run_cases([
        ("a_large_set_streams_with_flat_memory", test_a_large_set_streams_with_flat_memory),
        ("refusals_come_before_the_body", test_refusals_come_before_the_body),
        ("over_limit_disconnect_and_stall_keep_the_old_list", test_over_limit_disconnect_and_stall_keep_the_old_list),
        ("slow_progress_and_100_continue", test_slow_progress_and_100_continue),
        ("shutdown_mid_upload_leaves_nothing", test_shutdown_mid_upload_leaves_nothing),
    ]))
