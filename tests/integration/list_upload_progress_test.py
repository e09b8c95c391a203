"""Integration: PUT /v1/admin/lists/{name} while the upload keeps making progress (docs/lists.md).

Against the real callsignd: a slow upload that keeps making progress outlives the request
timeout; `Expect: 100-continue` from an admin gets `100 Continue`, then 200, on a connection
that stays usable; SIGTERM during a trickling upload drains, exits cleanly and leaves no upload
file."""
import threading
import time

from harness import Server, check, mint_token, parse_args, run_cases
from list_upload_api import (SMALL, connect, leftovers, list_item, read_response, small_password_set, upload_head,
                             with_server)

ARGS, _ = parse_args()


@with_server(ARGS, SMALL)
def test_slow_progress_and_100_continue(server, token, work):
    content = small_password_set(ARGS.callsign, work, 1500)
    # Sent over ~4 s, longer than the 3 s request timeout, but never idle for long: the
    # timeout applies per read, so the upload lives. (12 KB in 4 s also stays above the default
    # lists.upload_min_bytes_per_second, 4096 bytes/s counted from the end of the first 3 s.)
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
    content = small_password_set(ARGS.callsign, work, 2000)
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
        ("slow_progress_and_100_continue", test_slow_progress_and_100_continue),
        ("shutdown_mid_upload_leaves_nothing", test_shutdown_mid_upload_leaves_nothing),
    ]))
