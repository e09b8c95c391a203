"""Integration: header lines a proxy in front and callsignd could read differently (the second
attack probe, session 23). Two X-Forwarded-For lines are one list, so a client's forged first
line cannot hide the address a proxy appended; a repeated single-value field (X-Real-IP,
Content-Type, Origin) and a Host that is not host[:port] are refused with a 400 problem. Each
case failed before its fix."""
import json
import signal

from harness import (Node, check, json_headers, parse_args, problem_of, raw_exchange, responses, run_cases)

ARGS, _ = parse_args()
CONFIG = """
[login]
trusted_proxies = ["127.0.0.1"]
"""
BLOCKED = "203.0.113.9"


class Suite:
    def __init__(self):
        self.node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
        self.server = self.node.server
        self.service = self.node.token("service", "login-frontend")

    def exchange(self, payload):
        return raw_exchange(self.server.port, payload)

    def stop(self):
        code = self.server.stop(signal.SIGTERM)
        check(code == 0, "callsignd exited with %s on SIGTERM: %s" % (code, "\n".join(self.server.stderr[-20:])))
        self.server.cleanup()


SUITE = None


def gate(*lines):
    raw, _ = SUITE.exchange(("GET /v1/login/gate HTTP/1.1\r\nHost: a\r\n%s\r\nConnection: close\r\n\r\n" %
                             "\r\n".join(lines)).encode())
    return raw


def test_forwarded_for_lines_are_one_list_at_the_gate():
    for _ in range(6):
        status, _, reply = SUITE.server.json("POST", "/v1/login/result",
                                             json.dumps({"ip": BLOCKED, "username": "victim", "success": False}),
                                             json_headers(SUITE.service))
        check(status == 200, "login/result: %d %r" % (status, reply))
    check(responses(gate("X-Forwarded-For: %s" % BLOCKED)) == [429], "the blocked address alone is refused")
    check(responses(gate("X-Forwarded-For: 198.51.100.1, %s" % BLOCKED)) == [429], "one line, proxy's hop last")
    # HAProxy's option forwardfor adds its own line after the client's: the client's forged
    # first line must not hide the address the proxy vouched for.
    raw = gate("X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: %s" % BLOCKED)
    check(responses(raw) == [429], "two lines, the proxy's last: %r" % raw[:200])
    raw = gate("X-Forwarded-For: %s" % BLOCKED, "X-Forwarded-For: 198.51.100.1")
    check(responses(raw) == [204], "two lines, an unblocked hop last: %r" % raw[:200])


def test_repeated_single_value_fields_are_refused():
    raw = gate("X-Real-IP: 198.51.100.1", "X-Real-IP: %s" % BLOCKED)
    check(responses(raw) == [400], "two X-Real-IP lines: %r" % raw[:200])
    check(problem_of(raw)["detail"] == "more than one x-real-ip header (only list-valued fields may repeat)",
          raw[:300])
    body = b'{"ip":"192.0.2.1"}'
    raw, _ = SUITE.exchange(b"POST /v1/login/check HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " +
                            SUITE.service.encode() + b"\r\nContent-Type: application/json\r\n"
                            b"Content-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) +
                            body)
    check(responses(raw) == [400], "two Content-Type lines: %r" % raw[:200])
    check(problem_of(raw)["detail"].startswith("more than one content-type header"), raw[:300])
    raw, _ = SUITE.exchange(b"GET /v1/stream HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            b"Origin: http://a\r\nOrigin: http://evil.example\r\n\r\n")
    check(responses(raw) == [400], "two Origin lines on the stream: %r" % raw[:200])
    check(SUITE.service.encode() not in raw, "the token was echoed")


def test_a_host_that_is_not_host_and_port_is_refused():
    for host in (b"a b", b"user@evil", b"evil/x", b"a:99999"):
        raw, _ = SUITE.exchange(b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        check(responses(raw) == [400], "Host %r: %r" % (host, raw[:200]))
        check(problem_of(raw)["detail"] == "the Host header is not a valid host[:port]", raw[:300])
    raw, _ = SUITE.exchange(b"GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n")
    check(responses(raw) == [200], "an IPv6 literal with a port: %r" % raw[:200])


def main():
    global SUITE
    SUITE = Suite()
    try:
        code = run_cases([
            ("forwarded_for_lines_are_one_list_at_the_gate", test_forwarded_for_lines_are_one_list_at_the_gate),
            ("repeated_single_value_fields_are_refused", test_repeated_single_value_fields_are_refused),
            ("a_host_that_is_not_host_and_port_is_refused", test_a_host_that_is_not_host_and_port_is_refused),
        ])
    finally:
        SUITE.stop()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
