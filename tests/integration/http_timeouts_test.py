"""Integration: limits.request_timeout_ms on plain HTTP, one clock per phase of an exchange
(net/phase_deadline.hpp). Reading a request and writing its reply each get the timeout; a read
that trickles does not renew it; a client that stops reading its replies is cut off; between
requests a keep-alive connection is closed once the timeout passes. The sweep that enforces it
runs every 100 ms, so each close is expected within a second of the timeout."""
import socket
import sys
import threading
import time

from harness import check, on_fresh_server, parse_args, run_cases

ARGS, _ = parse_args()
TIMEOUT_S = 3.0
CONFIG = """
[limits]
header_bytes = 8192
request_timeout_ms = 3000
"""
EARLY, LATE = TIMEOUT_S - 0.5, TIMEOUT_S + 4.0


def with_server(fn):
    return on_fresh_server(ARGS.callsignd, CONFIG, fn)


def wait_for_close(sock, limit):
    """Seconds until the server ends the connection (EOF or reset), reading and dropping what it
    sends; None if it is still open after `limit` seconds."""
    started = time.time()
    sock.settimeout(0.1)
    while time.time() - started < limit:
        try:
            if sock.recv(65536) == b"":
                return time.time() - started
        except socket.timeout:
            continue
        except OSError:
            return time.time() - started
    return None


def test_trickled_header_closed_at_timeout(server):
    """A header trickled a byte every 0.1 s is cut off at the timeout: the clock covers the whole
    header and is not re-armed by each read."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    started = time.time()
    closed_after = None
    payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
    try:
        for byte in payload:
            sock.sendall(bytes([byte]))
            time.sleep(0.1)
            sock.settimeout(0)
            try:
                if sock.recv(65536) == b"":
                    closed_after = time.time() - started
                    break
            except BlockingIOError:
                pass
            finally:
                sock.settimeout(10)
            if time.time() - started > LATE + 5:
                break
    except OSError:  # a reset, or a write after the close
        closed_after = time.time() - started
    finally:
        sock.close()
    check(closed_after is not None, "a header trickled a byte every 0.1 s was still open after %.0f s "
          "(is the header's clock re-armed by each read?)" % (LATE + 5))
    check(EARLY <= closed_after <= LATE, "closed after %.1f s; the timeout is %.0f s" % (closed_after, TIMEOUT_S))


def test_idle_keep_alive_closed_at_timeout(server):
    """After a reply, a keep-alive connection that sends nothing more is closed at the timeout."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            reply += sock.recv(65536)
        check(reply.startswith(b"HTTP/1.1 200"), "healthz: %r" % reply[:40])
        closed_after = wait_for_close(sock, LATE + 5)
    finally:
        sock.close()
    check(closed_after is not None, "an idle keep-alive connection was still open after %.0f s" % (LATE + 5))
    check(EARLY <= closed_after <= LATE, "idle connection closed after %.1f s; the timeout is %.0f s"
          % (closed_after, TIMEOUT_S))


def test_reader_that_stops_is_cut_off(server):
    """A client that pipelines requests but stops reading leaves a reply half-written: the write
    phase's clock closes the connection, so fewer replies arrive than were asked for and the
    stream ends. A server without a write timeout would keep the connection (and the slot) open
    for as long as the client likes, then deliver every reply."""
    # /metrics replies are about 7 KB: a few hundred fill the kernel's buffers (up to 4 MB on the
    # server's side), so even a sanitizer build blocks in its write long before the client reads.
    requests = 5000
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
    sock.connect(("127.0.0.1", server.port))
    one = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

    def send_all():
        try:
            sock.sendall(one * requests)
        except OSError:
            pass  # the server closed while requests were still going out: what is tested
    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    time.sleep(TIMEOUT_S + 2.0)  # not reading: the server's write blocks, and its clock runs out
    replies = 0
    ended = False
    tail = b""
    sock.settimeout(5)
    try:
        while True:
            data = sock.recv(1 << 20)
            if data == b"":
                ended = True
                break
            tail += data
            replies += tail.count(b"HTTP/1.1 200")
            tail = tail[-11:]  # shorter than a match: none is counted twice
    except socket.timeout:
        pass  # still open with nothing more to say: not cut off
    except OSError:
        ended = True  # reset: the server closed with our requests unread
    finally:
        sock.close()
    sender.join(timeout=10)
    check(ended, "the connection was still open %.0f s after the client stopped reading (%d replies)"
          % (TIMEOUT_S + 7, replies))
    check(0 < replies < requests, "%d of %d replies arrived before the end" % (replies, requests))
    status, _, _ = server.request("GET", "/healthz")
    check(status == 200, "the server still serves after cutting one client off: %s" % status)


CASES = [
    ("trickled_header_closed_at_timeout", with_server(test_trickled_header_closed_at_timeout)),
    ("idle_keep_alive_closed_at_timeout", with_server(test_idle_keep_alive_closed_at_timeout)),
    ("reader_that_stops_is_cut_off", with_server(test_reader_that_stops_is_cut_off)),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
