"""Integration: what the attack probe of issue 16 found, against the real callsignd.

Request smuggling through a non-chunked Transfer-Encoding (and an upload that would install an
empty list from a body that never arrived), lenient parsing a proxy in front could read
differently (no Host, two Authorization headers, obs-fold, duplicate JSON members, repeated
query parameters), a NUL byte cutting an address short, the verify reply telling an unknown
email from a wrong code, and the journal order of concurrent list uploads. Each case failed
before its fix."""
import json
import os
import signal
import threading

from harness import (Node, bearer, check, check_problem, json_headers, parse_args, problem_of, raw_exchange,
                     responses, run_cases, wrong_code)

ARGS, _ = parse_args()
CONFIG = """
[server]
dev_mode = true
[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000
"""
PROXIES = b"192.0.2.1\n192.0.2.2\n"


class Suite:
    def __init__(self):
        self.node = Node(ARGS.callsignd, ARGS.callsign, CONFIG)
        self.server = self.node.server
        self.admin = self.node.token("admin", "ops-1")

    def stop(self):
        code = self.server.stop(signal.SIGTERM)
        check(code == 0, "callsignd exited with %s on SIGTERM: %s" % (code, "\n".join(self.server.stderr[-20:])))
        self.server.cleanup()


SUITE = None


def exchange(payload, timeout=10):
    return raw_exchange(SUITE.server.port, payload, timeout)


def list_status(name):
    status, _, body = SUITE.server.json("GET", "/v1/admin/lists", headers=bearer(SUITE.admin))
    check(status == 200, "GET /v1/admin/lists: %d" % status)
    return {item["name"]: item for item in body["lists"]}[name]


def put_proxies(content):
    status, _, body = SUITE.server.request("PUT", "/v1/admin/lists/open_proxies", content,
                                           bearer(SUITE.admin, {"Content-Type": "text/plain"}))
    return status, body


def test_non_chunked_transfer_encoding_is_refused_and_closes():
    smuggled = b"GET /v1/login/gate HTTP/1.1\r\nHost: x\r\n\r\n"
    for framing in (b"Transfer-Encoding: gzip", b"Transfer-Encoding: xchunked", b"Transfer-Encoding: identity",
                    b"Transfer-Encoding: compress", b'Transfer-Encoding: "chunked"',
                    b"Transfer-Encoding: xchunked\r\nContent-Length: %d" % len(smuggled),
                    b"Transfer-Encoding: gzip, chunked", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"):
        payload = (b"POST /v1/dev/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing +
                   b"\r\n\r\n" + smuggled)
        raw, closed = exchange(payload)
        check(responses(raw) == [400], "%r: responses %r (the body ran as a request?) %r" % (framing, responses(raw),
                                                                                            raw[:400]))
        check(closed, "%r: the connection stayed open after the refusal" % framing)
        detail = problem_of(raw)["detail"]
        # Beast's parser itself refuses a repeated chunked coding, before callsign's rule.
        expected = "malformed HTTP request" if framing.count(b"chunked") == 2 else "Transfer-Encoding"
        check(expected in detail, "%r: detail %r" % (framing, detail))


def test_list_upload_with_gzip_coding_keeps_the_list():
    status, body = put_proxies(PROXIES)
    check(status == 200, "seed upload: %d %r" % (status, body[:200]))
    before = list_status("open_proxies")
    path = before["source"]
    size = os.path.getsize(path)
    check(before["entries"] == 2 and size == len(PROXIES), "seeded list %r, %d bytes" % (before, size))
    head = ("PUT /v1/admin/lists/open_proxies HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: text/plain\r\n" % SUITE.admin).encode()
    raw, closed = exchange(head + b"Transfer-Encoding: gzip\r\n\r\n" + b"\x1f\x8b garbage")
    check(responses(raw) == [400] and closed, "gzip upload: %r closed=%s" % (raw[:300], closed))
    # Neither a length nor chunked: the body's end is unknowable, so nothing is installed.
    raw, closed = exchange(head + b"\r\n")
    check(responses(raw) == [411], "unframed upload: %r" % raw[:300])
    check("Content-Length" in problem_of(raw)["detail"], "411 detail %r" % raw[:300])
    after = list_status("open_proxies")
    check(after["version"] == before["version"] and after["entries"] == 2 and after["sha256"] == before["sha256"],
          "the list changed: %r -> %r" % (before, after))
    check(os.path.getsize(path) == size, "the list file is now %d bytes" % os.path.getsize(path))
    # An explicit empty body is a deliberate, framed upload and still works.
    status, body = put_proxies(b"")
    check(status == 200 and json.loads(body)["list"]["entries"] == 0, "empty framed upload: %d %r" % (status, body))


def test_host_and_authorization_must_be_unambiguous():
    raw, closed = exchange(b"GET /healthz HTTP/1.1\r\n\r\n")
    check(responses(raw) == [400] and closed, "no Host: %r" % raw[:200])
    check(problem_of(raw)["detail"] == "an HTTP/1.1 request must carry a Host header", raw[:300])
    raw, _ = exchange(b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    check(responses(raw) == [400], "two Hosts: %r" % raw[:200])
    raw, _ = exchange(b"GET /healthz HTTP/1.0\r\n\r\n")
    check(responses(raw) == [200] or raw.startswith(b"HTTP/1.0 200"), "HTTP/1.0 without Host: %r" % raw[:200])
    customer = SUITE.node.token("customer", "c-1")
    raw, closed = exchange(("GET /v1/admin/lists HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                            "Authorization: Bearer %s\r\n\r\n" % (SUITE.admin, customer)).encode())
    check(responses(raw) == [400] and closed, "two Authorization headers: %r" % raw[:200])
    check(problem_of(raw)["detail"] == "more than one Authorization header", raw[:300])
    check(SUITE.admin.encode() not in raw and customer.encode() not in raw, "a token was echoed")


def test_obsolete_line_folding_is_refused():
    raw, closed = exchange(("GET /v1/admin/lists HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n %s\r\n\r\n"
                            % SUITE.admin).encode())
    check(responses(raw) == [400] and closed, "obs-fold: %r" % raw[:200])
    check(problem_of(raw)["detail"] == "obsolete line folding in a header is not accepted", raw[:300])


def test_duplicate_json_members_and_repeated_query_parameters():
    status, headers, body = SUITE.server.request("POST", "/v1/dev/token",
                                                 '{"role":"customer","sub":"c","role":"admin"}',
                                                 {"Content-Type": "application/json"})
    check_problem(status, headers, body, 400, "field 'role' appears more than once")
    SUITE.node.put_user("v1")
    SUITE.node.put_user("v2")
    status, headers, body = SUITE.server.request(
        "POST", "/v1/verify", '{"user":"v2","code":"123456","user":"v1"}', json_headers(SUITE.node.token("agent", "a")))
    check_problem(status, headers, body, 400, "field 'user' appears more than once")
    status, headers, body = SUITE.server.request("GET", "/v1/users?email=v1@example.com&email=v2@example.com",
                                                 headers=bearer(SUITE.node.token("agent", "a")))
    check_problem(status, headers, body, 400, "query parameter 'email' appears more than once")
    status, headers, body = SUITE.server.request("GET", "/v1/audit?limit=1&limit=500", headers=bearer(SUITE.admin))
    check_problem(status, headers, body, 400, "query parameter 'limit' appears more than once")


def test_nul_never_cuts_an_address_short():
    service = SUITE.node.token("service", "login-1")
    status, headers, body = SUITE.server.request("POST", "/v1/login/check",
                                                 json.dumps({"ip": "192.0.2.77\u0000 anything"}), json_headers(service))
    check_problem(status, headers, body, 400, "must not contain a NUL character")
    status, body = put_proxies(PROXIES)
    check(status == 200, "seed upload: %d" % status)
    before = list_status("open_proxies")
    status, body = put_proxies(b"192.0.2.9\n192.0.2.2\x00junk\n")
    check(status == 422, "a NUL line was accepted: %d %r" % (status, body[:300]))
    check(b"line 2" in body, "refusal names no line: %r" % body[:300])
    after = list_status("open_proxies")
    check(after["version"] == before["version"] and after["sha256"] == before["sha256"], "the list changed")


def test_unknown_email_reply_equals_wrong_code():
    SUITE.node.put_user("known")
    agent = SUITE.node.token("agent", "a-7")
    code = wrong_code()
    replies = []
    for email in ("known@example.com", "nobody@example.com"):
        status, _, body = SUITE.server.request("POST", "/v1/verify", json.dumps({"email": email, "code": code}),
                                               json_headers(agent))
        check(status == 200, "verify %s: %d %r" % (email, status, body))
        replies.append(body)
    check(replies[0] == replies[1], "a wrong code for a known email answers %r, an unknown email %r" % tuple(replies))
    check(json.loads(replies[0]) == {"valid": False, "method": None, "user": None}, "reply %r" % replies[0])


def test_concurrent_uploads_are_journaled_in_version_order():
    errors = []
    barrier = threading.Barrier(8)

    def upload(i):
        try:
            barrier.wait(timeout=30)
            status, body = put_proxies(("192.0.2.%d\n198.51.100.%d\n" % (i + 10, i + 10)).encode())
            if status != 200:
                errors.append((status, body[:200]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    for _ in range(3):
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        check(not errors, "uploads failed: %r" % errors)
    entries = [e for e in SUITE.node.audit() if e["action"] == "lists.upload" and e["outcome"] == "reloaded"]
    versions = [int(e["details"]["version"]) for e in sorted(entries, key=lambda e: e["seq"])]
    check(len(versions) >= 24, "only %d upload entries" % len(versions))
    check(versions == sorted(versions) and len(set(versions)) == len(versions),
          "journal order is not version order: %r" % versions)


def alive(what):
    status, _, _ = SUITE.server.request("GET", "/healthz")
    check(status == 200 and SUITE.server.proc.poll() is None, "callsignd died after %s" % what)


def test_chunked_trailers_never_end_the_process():
    """A chunked body's trailer fields: Beast 1.81 neither bounds them nor checks their size, and
    a trailer value of 64 KiB threw from inside its read operation, where nothing caught it:
    one unauthenticated request aborted callsignd. Trailers are now dropped, and bounded by the
    read buffer (431 past it), on plain and streamed routes alike."""
    def chunked(head, trailer):
        return head + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: " + trailer + b"\r\n\r\n"

    raw, _ = exchange(chunked(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"a" * 65534) +
                      b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(responses(raw) == [200, 200], "a 64 KiB trailer is dropped and the connection goes on: %r" % raw[:300])
    alive("a 64 KiB trailer")
    raw, _ = exchange(chunked(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
                              b"a" * 70000))
    check(responses(raw) == [401], "an unauthenticated verify with a 70 KB trailer: %r" % raw[:300])
    alive("a 70 KB trailer on /v1/verify")
    raw, closed = exchange(chunked(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"a" * 300000))
    check(responses(raw) == [431] and closed, "a trailer past the read buffer: 431 and close: %r" % raw[:300])
    alive("a 300 KB trailer")
    head = (b"POST /v1/admin/users/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + SUITE.admin.encode() +
            b"\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
    line = b'{"id":"trailer-1","email":"trailer-1@example.com","phone_support":true}\n'
    for trailer in (b"a" * 100000, b"a" * 300000):
        raw, _ = exchange(head + b"%x\r\n%s\r\n0\r\nX-Trailer: %s\r\n\r\n" % (len(line), line, trailer))
        check(responses(raw) and responses(raw)[0] in (200, 431), "a streamed import with a trailer: %r" % raw[:300])
        alive("a %d-byte trailer on a streamed import" % len(trailer))


def test_a_long_header_value_gets_431_whatever_the_limit():
    """limits.header_bytes may be up to 1 MiB, but a Beast field holds at most 65533 bytes: a
    longer value threw (the connection closed with no reply). It is a 431 now."""
    node = Node(ARGS.callsignd, ARGS.callsign, "[limits]\nheader_bytes = 1048576\n")
    try:
        status, _, _ = node.server.request("GET", "/healthz", headers={"X-Long": "a" * 70000})
        check(status == 431, "a 70 KB header value under a 1 MiB header limit: %d" % status)
        status, _, _ = node.server.request("GET", "/healthz", headers={"X-Long": "a" * 60000})
        check(status == 200, "a 60 KB header value under a 1 MiB header limit: %d" % status)
        check(node.server.stop(signal.SIGTERM) == 0, "callsignd exited 0")
    finally:
        node.server.cleanup()


def main():
    global SUITE
    SUITE = Suite()
    try:
        code = run_cases([
            ("non_chunked_transfer_encoding_is_refused_and_closes", test_non_chunked_transfer_encoding_is_refused_and_closes),
            ("list_upload_with_gzip_coding_keeps_the_list", test_list_upload_with_gzip_coding_keeps_the_list),
            ("host_and_authorization_must_be_unambiguous", test_host_and_authorization_must_be_unambiguous),
            ("obsolete_line_folding_is_refused", test_obsolete_line_folding_is_refused),
            ("duplicate_json_members_and_repeated_query_parameters",
             test_duplicate_json_members_and_repeated_query_parameters),
            ("nul_never_cuts_an_address_short", test_nul_never_cuts_an_address_short),
            ("unknown_email_reply_equals_wrong_code", test_unknown_email_reply_equals_wrong_code),
            ("concurrent_uploads_are_journaled_in_version_order", test_concurrent_uploads_are_journaled_in_version_order),
            ("chunked_trailers_never_end_the_process", test_chunked_trailers_never_end_the_process),
            ("a_long_header_value_gets_431_whatever_the_limit", test_a_long_header_value_gets_431_whatever_the_limit),
        ])
    finally:
        SUITE.stop()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
