"""Integration: what a proxy in front and callsignd could read differently (the second attack
probe, session 23). Two X-Forwarded-For lines are one list, so a client's forged first line
cannot hide the address a proxy appended; a repeated single-value field (X-Real-IP, Content-Type,
Origin), a Host that is not host[:port], a query parameter the route does not take or a repeated
one, a request target that is not a path (or an absolute URI of the Host), a fragment, and a
WebSocket handshake Beast would refuse are all problem+json replies; an unknown method is a 501.
Each case failed before its fix."""
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


def test_query_parameters_a_route_does_not_take_are_refused():
    service = SUITE.service.encode()
    for target in (b"/v1/login/gate?x=1", b"/v1/login/gate?x=1&x=2", b"/healthz?probe=1", b"/metrics?a=1&a=2"):
        raw, _ = SUITE.exchange(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        check(responses(raw) == [400], "%r: %r" % (target, raw[:200]))
        check(problem_of(raw)["detail"] in ("unknown query parameter 'x'", "unknown query parameter 'probe'",
                                            "unknown query parameter 'a'"), raw[:300])
    body = b'{"ip":"192.0.2.1"}'
    raw, _ = SUITE.exchange(b"POST /v1/login/check?user=a HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + service +
                            b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                            b"Connection: close\r\n\r\n" % len(body) + body)
    check(responses(raw) == [400], "login/check with a query: %r" % raw[:200])
    admin = SUITE.node.token("admin", "ops-1").encode()
    raw, _ = SUITE.exchange(b"GET /v1/users?limit=1&l%69mit=2 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + admin +
                            b"\r\nConnection: close\r\n\r\n")
    check(responses(raw) == [400], "a repeated parameter in two spellings: %r" % raw[:200])
    check(problem_of(raw)["detail"] == "query parameter 'limit' appears more than once", raw[:300])
    raw, _ = SUITE.exchange(b"GET /v1/users?limit=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + admin +
                            b"\r\nConnection: close\r\n\r\n")
    check(responses(raw) == [200], "a declared parameter: %r" % raw[:200])
    raw, _ = SUITE.exchange(b"GET /admin?utm_source=mail HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(responses(raw) in ([200], [404]), "a page takes any query: %r" % raw[:200])


def test_request_targets_and_methods():
    for target, detail in ((b"healthz", "must be an absolute path"), (b"/healthz#x", "must not carry a fragment"),
                           (b"http://other/healthz", "the same host and port as the Host header")):
        raw, _ = SUITE.exchange(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        check(responses(raw) == [400], "%r: %r" % (target, raw[:200]))
        check(detail in problem_of(raw)["detail"], raw[:300])
    raw, _ = SUITE.exchange(b"GET http://a/healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(responses(raw) == [200], "absolute-form naming the Host: %r" % raw[:200])
    for method in (b"TRACE", b"get", b"FOO"):
        raw, _ = SUITE.exchange(method + b" /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        check(responses(raw) == [501], "%r: %r" % (method, raw[:200]))
        problem_of(raw)


def test_login_check_headers_must_be_what_a_front_end_received():
    def check_headers(headers):
        return SUITE.server.json("POST", "/v1/login/check", json.dumps({"ip": "192.0.2.1", "headers": headers}),
                                 json_headers(SUITE.service))
    status, _, body = check_headers({"x-ok": "fine\tvalue"})
    check(status == 200, "good headers: %d %r" % (status, body))
    for headers, detail in (({"bad name": "x"}, "not an HTTP field name"), ({"x(y)": "x"}, "not an HTTP field name"),
                            ({"x-ok": "a\r\nSet-Cookie: b"}, "control character"), ({"x-ok": "a\u007f"}, "control character")):
        status, _, body = check_headers(headers)
        check(status == 400 and detail in body.get("detail", ""), "%r: %d %r" % (headers, status, body))
        check("Set-Cookie" not in body.get("detail", ""), "the value is echoed")


def handshake(*lines):
    raw, _ = SUITE.exchange(("GET /v1/stream HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "%s\r\n\r\n" % "\r\n".join(lines)).encode())
    return raw


def test_a_websocket_handshake_beast_would_refuse_is_a_problem():
    raw = handshake("Sec-WebSocket-Version: 8", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
    check(responses(raw) == [426], "version 8: %r" % raw[:300])
    check(b"\r\nsec-websocket-version: 13\r\n" in raw.partition(b"\r\n\r\n")[0].lower() + b"\r\n", raw[:300])
    check(problem_of(raw)["status"] == 426, raw[:300])
    for key_line in ("Sec-WebSocket-Key: x", "X-Other: 1"):
        raw = handshake("Sec-WebSocket-Version: 13", key_line)
        check(responses(raw) == [400], "%s: %r" % (key_line, raw[:300]))
        check("Sec-WebSocket-Key" in problem_of(raw)["detail"], raw[:300])


def main():
    global SUITE
    SUITE = Suite()
    try:
        code = run_cases([
            ("forwarded_for_lines_are_one_list_at_the_gate", test_forwarded_for_lines_are_one_list_at_the_gate),
            ("repeated_single_value_fields_are_refused", test_repeated_single_value_fields_are_refused),
            ("a_host_that_is_not_host_and_port_is_refused", test_a_host_that_is_not_host_and_port_is_refused),
            ("query_parameters_a_route_does_not_take_are_refused",
             test_query_parameters_a_route_does_not_take_are_refused),
            ("request_targets_and_methods", test_request_targets_and_methods),
            ("a_websocket_handshake_beast_would_refuse_is_a_problem",
             test_a_websocket_handshake_beast_would_refuse_is_a_problem),
            ("login_check_headers_must_be_what_a_front_end_received",
             test_login_check_headers_must_be_what_a_front_end_received),
        ])
    finally:
        SUITE.stop()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
