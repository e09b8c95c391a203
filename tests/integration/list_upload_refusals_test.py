"""Integration: PUT /v1/admin/lists/{name} refused or cut off (docs/lists.md).

Against the real callsignd: callers refused from the header alone (401, 403, 404, 413) get
their answer without the body being read and without `100 Continue`; a chunked body over the
limit, a client that disconnects, one that stalls and one that trickles below
lists.upload_min_bytes_per_second leave no upload file behind and the old list serving. Every
admin upload to a known list that ends without being installed is audited (lists.upload,
outcome refused, with the reason and the bytes received); callers refused as not an admin, or
for an unknown list, are not."""
import socket
import time

from harness import audit_entries, bearer, check, check_problem, mint_token, parse_args, run_cases
from list_upload_api import (HEADER_SIZE, MIB, SMALL, connect, leftovers, list_item, small_password_set, upload_head,
                             with_server)

ARGS, _ = parse_args()


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


def wait_for_no_leftovers(server, deadline_s=60):
    deadline = time.time() + deadline_s
    while leftovers(server) and time.time() < deadline:
        time.sleep(0.05)
    return leftovers(server)


def refused_uploads(server, token, count, deadline_s=30):
    """The lists.upload entries with outcome refused, once there are `count` (a disconnect's entry
    is committed without a reply to wait for, so it may land a moment after the socket closes)."""
    deadline = time.time() + deadline_s
    while True:
        found = [e for e in audit_entries(server, token) if e["action"] == "lists.upload" and e["outcome"] == "refused"]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)


def healthy(server):
    status, _, _ = server.request("GET", "/healthz")
    return status == 200


@with_server(ARGS, SMALL)
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
    # Only the admin's two are audited, each before its 413.
    refused = refused_uploads(server, token, 2)
    check([(e["details"]["list"], e["details"]["reason"], e["details"]["bytes_stored"]) for e in refused] ==
          [("exposed_passwords", "too_large", "0"), ("open_proxies", "too_large", "0")], "audit: %r" % refused)
    check(all(e["actor_type"] == "admin" for e in refused), "actors: %r" % refused)
    check(healthy(server), "server unhealthy after refusals")


def upload_base(server, token, work):
    """Uploads a 1,000-entry password set at loopback speed; returns its bytes and the served item."""
    base = small_password_set(ARGS.callsign, work)
    status, _, raw = server.request("PUT", "/v1/admin/lists/exposed_passwords", base,
                                    bearer(token, {"Content-Type": "application/octet-stream"}))
    check(status == 200, "base upload: %d %r" % (status, raw[:300]))
    serving = list_item(server, token, "exposed_passwords")
    check(serving["version"] == 1 and serving["entries"] == 1000, "base %r" % serving)
    return base, serving


@with_server(ARGS, SMALL)
def test_over_limit_disconnect_and_stall_keep_the_old_list(server, token, work):
    base, serving = upload_base(server, token, work)

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

    # A stalled client: cut off by the request timeout (3 s) without a reply (docs/lists.md:
    # `aborted`, "none"), the file removed.
    sock = connect(server, timeout=60)
    started = time.time()
    try:
        sock.sendall(upload_head(token, "exposed_passwords", 900000) + base[:4096])
        raw = b""
        while True:  # until the server closes; a 60 s socket timeout is a failure, not a close
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                check(False, "a stalled upload was still open after 60 s")
            if not chunk:
                break
            raw += chunk
    finally:
        sock.close()
    stalled = time.time() - started
    check(raw == b"", "a stalled upload was answered %r; the documented reply is none" % raw[:100])
    check(2.5 <= stalled <= 10, "a stalled upload was cut off after %.1f s, not at the 3 s request timeout" % stalled)
    check(not wait_for_no_leftovers(server), "a stalled upload left files: %r" % leftovers(server))
    unchanged("a stalled upload")
    check(healthy(server), "server unhealthy after broken uploads")

    refused = refused_uploads(server, token, 3)
    reasons = [(e["details"]["list"], e["details"]["reason"]) for e in refused]
    check(reasons == [("exposed_passwords", "too_large"), ("exposed_passwords", "aborted"),
                      ("exposed_passwords", "aborted")], "audit: %r" % refused)
    # What reached the upload file before it was removed (64 KiB chunks): up to the 1 MiB limit,
    # part of the disconnected 300 KB, nothing of the stalled 4 KiB (less than one chunk).
    stored = [int(e["details"]["bytes_stored"]) for e in refused]
    check(MIB // 2 <= stored[0] <= MIB and 0 < stored[1] <= 300000 + HEADER_SIZE and stored[2] <= 4096,
          "bytes stored %r" % stored)


# The rate floor's grace is the request timeout (3 s); a trickle of 200 bytes every 0.2 s keeps
# each read well inside it but averages 1,000 bytes/s, far below the floor.
TRICKLE = SMALL + "upload_min_bytes_per_second = 65536\n"


@with_server(ARGS, TRICKLE)
def test_a_trickled_upload_is_cut_off_with_408(server, token, work):
    base, serving = upload_base(server, token, work)  # at loopback speed: far above the floor

    sock = connect(server, timeout=60)
    started = time.time()
    answered = b""
    try:
        sock.sendall(upload_head(token, "exposed_passwords", 900000) + base[:HEADER_SIZE])
        sock.settimeout(0.2)
        while time.time() - started < 60 and not answered:
            try:
                sock.sendall(b"\x01" * 200)
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                answered = sock.recv(65536)
            except socket.timeout:
                pass
        sock.settimeout(10)
        answered += read_until_close(sock)
    finally:
        sock.close()
    check(answered, "a trickled upload was still open after 60 s")
    status, headers, body = split_raw(answered)
    check_problem(status, headers, body, 408, "upload_min_bytes_per_second")
    check(not wait_for_no_leftovers(server), "a trickled upload left files: %r" % leftovers(server))
    item = list_item(server, token, "exposed_passwords")
    check(item["version"] == serving["version"] and item["sha256"] == serving["sha256"], "the list changed: %r" % item)
    reasons = [r.get("reason") for r in server.log_records() if r.get("msg") == "list upload abandoned"]
    check("slower than lists.upload_min_bytes_per_second" in reasons, "log reasons %r" % reasons)
    refused = refused_uploads(server, token, 1)
    check(len(refused) == 1 and refused[0]["details"]["reason"] == "too_slow", "audit: %r" % refused)
    check(healthy(server), "server unhealthy after a trickled upload")


if __name__ == "__main__":
    raise SystemExit(run_cases([
        ("refusals_come_before_the_body", test_refusals_come_before_the_body),
        ("over_limit_disconnect_and_stall_keep_the_old_list", test_over_limit_disconnect_and_stall_keep_the_old_list),
        ("a_trickled_upload_is_cut_off_with_408", test_a_trickled_upload_is_cut_off_with_408),
    ]))
