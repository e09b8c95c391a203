"""Integration: promises of docs/operations.md and docs/configuration.md that need a real process:

- /readyz answers 503 problem+json while callsignd drains after SIGTERM (a request whose header
  arrived before the signal is still answered, with Connection: close), and a request still busy
  is dropped at limits.shutdown_timeout_ms, after which the process exits 0;
- X-Request-Id: callsignd makes one when none (or an invalid one) comes in, unique per request
  and per process, and keeps a valid incoming one; the id reaches the request log line and the
  verify's audit entry (`request_id`, docs/audit.md);
- limits.max_connections: up to the cap connections are served, the next one gets 503 problem
  "too many open connections" and is closed, and once one closes a new one is served;
- out of descriptors (RLIMIT_NOFILE): a warning at start when the limit cannot hold
  max_connections plus the reserve; connections past it wait in the backlog while the held ones
  are served, "accept failed" is logged once per 10 s, and once connections close the waiting
  ones are served and writes work."""
import json
import re
import signal
import socket
import sys
import time

from harness import (Server, audit_entries, check, check_problem, json_headers, mint_token, parse_args,
                     run_cases)

ARGS, _ = parse_args()
ID_SYNTAX = re.compile(r"[A-Za-z0-9._-]{1,64}")  # what callsignd keeps when it comes in (operations.md)


def stop_cleanly(server):
    code = server.stop(signal.SIGTERM)
    server.cleanup()
    check(code == 0, "callsignd exited with %s" % code)


def read_reply(sock, limit=30):
    """Reads one HTTP response (headers and a Content-Length body) from `sock`: (status line,
    lower-case headers, body)."""
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        check(chunk, "closed before a response header: %r" % data[:200])
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        check(chunk, "closed inside a response body")
        body += chunk
    return lines[0], headers, body[:length]


def closed_by_peer(sock, limit=30):
    """True once the peer closes `sock` (EOF or reset) within `limit` seconds."""
    sock.settimeout(limit)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def wait_until_refused(port, limit=30):
    """Waits until connecting to `port` is refused: after SIGTERM the acceptor closes first, so
    this is the observable start of the drain."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except ConnectionRefusedError:
            return
        except ConnectionResetError:
            pass  # the connect met the listener as it closed; the next one is refused
        time.sleep(0.02)
    raise AssertionError("the listener still accepted %.0f s after SIGTERM" % limit)


def header_sent_awaiting_body(port, path):
    """A connection that sent a request header with Expect: 100-continue and a 1-byte body not
    yet sent; returns it once callsignd answered 100 Continue, i.e. has read the header."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n" % path)
              .encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(1)
        check(chunk, "closed before 100 Continue")
        data += chunk
    check(data.startswith(b"HTTP/1.1 100"), "expected 100 Continue, got %r" % data[:100])
    return s


def test_readyz_503_while_draining():
    server = Server(ARGS.callsignd, "[limits]\nshutdown_timeout_ms = 20000\n")
    try:
        status, _, body = server.json("GET", "/readyz")
        check(status == 200 and body == {"status": "ready"}, "/readyz before SIGTERM: %d %r" % (status, body))
        held = header_sent_awaiting_body(server.port, "/readyz")
        with held:
            server.proc.send_signal(signal.SIGTERM)
            wait_until_refused(server.port)
            # The drain waits for this request (its header arrived): it is answered, not ready.
            try:
                held.sendall(b"x")
                status_line, headers, body = read_reply(held)
            except ConnectionResetError as exc:
                raise AssertionError("the /readyz whose header arrived before SIGTERM was reset: %s" % exc)
            check(status_line.startswith("HTTP/1.1 503"), "/readyz while draining: %r %r" % (status_line, body[:200]))
            check_problem(503, headers, body, 503, detail_contains="shutting down")
            check(headers.get("connection") == "close", "/readyz while draining: Connection %r" % headers.get("connection"))
            check(closed_by_peer(held), "the connection stayed open after the drain's reply")
        code = server.proc.wait(timeout=30)
        check(code == 0, "callsignd exited with %s after the drain" % code)
    finally:
        stop_cleanly(server)


def test_busy_request_dropped_at_shutdown_timeout():
    # The body never arrives; the request timeout (60 s) is far beyond the shutdown timeout (2 s),
    # so the drain's deadline is what ends it.
    server = Server(ARGS.callsignd, "[limits]\nshutdown_timeout_ms = 2000\nrequest_timeout_ms = 60000\n")
    try:
        held = header_sent_awaiting_body(server.port, "/readyz")
        with held:
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            code = server.proc.wait(timeout=60)
            took = time.monotonic() - started
            check(code == 0, "callsignd exited with %s" % code)
            # Not before the timeout (it waited for the busy request), and not much after.
            check(1.9 <= took <= 2.0 + 3.0, "exit %.2f s after SIGTERM with shutdown_timeout_ms = 2000" % took)
            server._reader.join(timeout=30)  # every line up to EOF read before looking
            check(any(r.get("msg") == "stopped" and r.get("abandoned_connections") == 1 for r in server.log_records()),
                  "no 'stopped' line with abandoned_connections 1: %r" % server.lines[-3:])
    finally:
        stop_cleanly(server)


def request_with_id(server, request_id=None, path="/healthz"):
    headers = {} if request_id is None else {"X-Request-Id": request_id}
    status, hdrs, _ = server.request("GET", path, headers=headers)
    return status, hdrs.get("x-request-id")


def test_request_id():
    server = Server(ARGS.callsignd, "")
    other = Server(ARGS.callsignd, "")
    try:
        made = []
        for _ in range(50):
            status, rid = request_with_id(server)
            check(status == 200 and rid is not None and ID_SYNTAX.fullmatch(rid), "made id %r" % rid)
            made.append(rid)
        status, rid = request_with_id(server, path="/no/such/route")  # errors carry one too
        check(status == 404 and rid and ID_SYNTAX.fullmatch(rid), "404 id %r" % rid)
        made.append(rid)
        check(len(set(made)) == len(made), "made ids repeat: %r" % made)
        _, from_other = request_with_id(other)
        check(from_other not in made, "a second process made an id of the first: %r" % from_other)

        # A valid incoming id is kept; an invalid one is replaced by a made one.
        for kept in ("trace-1", "A.b_C-9", "x" * 64):
            check(request_with_id(server, kept) == (200, kept), "incoming %r not kept" % kept)
        for refused in ("x" * 65, "has space", "a/b", "caf\u00e9".encode().decode("latin-1"), "semi;colon"):
            _, rid = request_with_id(server, refused)
            check(rid != refused and rid and ID_SYNTAX.fullmatch(rid) and rid not in made,
                  "incoming %r: got %r" % (refused, rid))

        # The id reaches the request log line and the verify's audit entry.
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops-1")
        agent = mint_token(ARGS.callsign, server.data_dir, "agent", "agent-1")
        status, _, _ = server.request("PUT", "/v1/users/rid-user",
                                      json.dumps({"email": "rid@example.com", "phone_support": True}), json_headers(admin))
        check(status in (200, 201), "PUT user: %d" % status)
        verify = json.dumps({"user": "rid-user", "code": "000000"})
        status, hdrs, _ = server.request("POST", "/v1/verify", verify, dict(json_headers(agent), **{"X-Request-Id": "ticket-42.a"}))
        check(status == 200 and hdrs.get("x-request-id") == "ticket-42.a", "verify with an id: %d %r" % (status, hdrs))
        status, hdrs, _ = server.request("POST", "/v1/verify", verify, json_headers(agent))
        made_for_verify = hdrs.get("x-request-id")
        check(status == 200 and made_for_verify and ID_SYNTAX.fullmatch(made_for_verify), "verify: %d %r" % (status, hdrs))
        ids = [e["request_id"] for e in audit_entries(server, admin) if e["action"] == "verify"]
        check(ids == ["ticket-42.a", made_for_verify], "verify audit request_ids %r" % ids)
        # The server writes the line before the reply, but the harness reads its stdout on
        # another thread: wait (bounded) until that thread has caught up.
        deadline = time.monotonic() + 10
        while True:
            logged = [r.get("request_id") for r in server.log_records()
                      if r.get("msg") == "request" and r.get("path") == "/v1/verify"]
            if logged[-2:] == ["ticket-42.a", made_for_verify] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(logged[-2:] == ["ticket-42.a", made_for_verify], "request log ids %r" % logged)
    finally:
        stop_cleanly(server)
        stop_cleanly(other)


def open_connections(sock):
    """callsign_open_connections, read over an open keep-alive connection."""
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status_line, _, body = read_reply(sock)
    check(status_line.startswith("HTTP/1.1 200"), "/metrics: %r" % status_line)
    return int(re.search(rb"^callsign_open_connections (\d+)$", body, re.M).group(1))


def served(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status_line, _, body = read_reply(sock)
    return status_line.startswith("HTTP/1.1 200") and json.loads(body) == {"status": "ok"}


def test_max_connections():
    cap = 4
    server = Server(ARGS.callsignd, "[limits]\nmax_connections = %d\nrequest_timeout_ms = 120000\n" % cap)
    held = []
    try:
        # Up to the cap, each connection is served (so it is registered before the next).
        for i in range(cap):
            held.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
            check(served(held[-1]), "connection %d of %d not served" % (i + 1, cap))
        check(open_connections(held[0]) == cap, "callsign_open_connections is not %d" % cap)
        # One more: the documented refusal, at once, then the close.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as extra:
            try:
                # Sent at accept, before any request: a connection that was let in says nothing.
                status_line, headers, body = read_reply(extra, limit=5)
            except socket.timeout:
                raise AssertionError("connection %d (over the cap of %d) got no refusal within 5 s" % (cap + 1, cap))
            check(status_line.startswith("HTTP/1.1 503"), "over the cap: %r" % status_line)
            check_problem(503, headers, body, 503, detail_contains="too many open connections")
            check(headers.get("retry-after") == "1", "the refusal's Retry-After: %r" % headers)
            check(closed_by_peer(extra), "the refused connection stayed open")
        # The held ones are still served.
        check(all(served(s) for s in held), "a held connection was dropped by the refusal")
        # Close one; once the server has seen it (the gauge drops), a new connection is served.
        held.pop().close()
        deadline = time.monotonic() + 30
        while open_connections(held[0]) != cap - 1:
            check(time.monotonic() < deadline, "callsign_open_connections did not drop after a close")
            time.sleep(0.02)
        held.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        check(served(held[-1]), "a new connection under the cap was not served")
    finally:
        for s in held:
            s.close()
        stop_cleanly(server)


def test_out_of_descriptors():
    server = Server(ARGS.callsignd, "[limits]\nrequest_timeout_ms = 120000\n",
                    wrapper=("prlimit", "--nofile=256:256"))
    held = []
    try:
        warning = server.log_record("the descriptor limit is below limits.max_connections plus a reserve; "
                                      "raise LimitNOFILE or lower limits.max_connections")
        check(warning is not None and warning.get("descriptor_limit") == 256, "start-up warning: %r" % warning)
        first = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        held.append(first)
        check(served(first), "the first connection")
        # Far more than the process can hold: the kernel queues them, accept fails with EMFILE.
        for _ in range(400):
            held.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        time.sleep(2.5)
        check(server.proc.poll() is None, "callsignd ended")
        check(served(first), "a held connection while out of descriptors")
        failed = [r for r in server.log_records() if r.get("msg", "").startswith("accept failed")]
        check(1 <= len(failed) <= 2, "accept failures logged %d times in 2.5 s" % len(failed))
        check("Too many open files" in failed[0].get("error", ""), "the failure: %r" % failed[0])
        for s in held[1:]:
            s.close()
        del held[1:]
        # The queued connections were closed by the client; new ones are served again.
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as fresh:
                    if served(fresh):
                        break
            except (OSError, AssertionError):
                pass
            check(time.monotonic() < deadline, "no connection served after descriptors came back")
            time.sleep(0.2)
        check(server.log_record("accept works again") is not None, "no line says the outage is over")
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops")
        status, _, body = server.json("PUT", "/v1/users/after-emfile",
                                      json.dumps({"email": "after@example.com", "phone_support": True}),
                                      json_headers(admin))
        check(status == 201, "a write after the exhaustion: %d %r" % (status, body))
    finally:
        for s in held:
            s.close()
        stop_cleanly(server)


if __name__ == "__main__":
    sys.exit(run_cases([
        ("readyz_503_while_draining", test_readyz_503_while_draining),
        ("busy_request_dropped_at_shutdown_timeout", test_busy_request_dropped_at_shutdown_timeout),
        ("request_id_made_kept_and_audited", test_request_id),
        ("max_connections_cap", test_max_connections),
        ("out_of_descriptors", test_out_of_descriptors),
    ]))
