"""The cross-node part of tools/bench/cluster (a benchmark, not a test): how long a verify's notice
and a login block take from one callsignd node to another through Redis (cs:events).

- notice: a customer dashboard (GET /v1/stream) on node A; a valid POST /v1/verify for that user
  on node B; the times at which B's reply and A's `verified` notice reach this client, read side
  by side with select() so neither waits for the other.
- block: five failed POST /v1/login/result for a fresh address on node B (the default rule blocks
  the address at the fifth); then GET /v1/login/gate on node A with that address in
  X-Forwarded-For, polled back to back on one keep-alive connection until it answers 429.
Times are time.perf_counter() in this one process, so no clocks are compared across processes."""
import os
import sys
import time

from cluster_support import Http, bearer, readable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from ws_client import WebSocket  # noqa: E402

import make_verify_requests as codes  # noqa: E402


def _ws_frame_pending(ws):
    return len(ws.buf) >= 2


def notice_samples(node_a, node_b, users, customer_tokens, agent_token, master):
    """One sample per user: {'reply_to_notice', 'send_to_notice', 'send_to_reply'} in ms."""
    samples, problems = [], []
    http = Http(node_b.port)
    for uid in users:
        ws = WebSocket(node_a.port)
        ws.send_json({"type": "auth", "token": customer_tokens[uid]})
        ws.receive_until(lambda m: m.get("type") == "token", timeout=10)
        code = codes.phone_token(master, uid, int(time.time()) // codes.PERIOD)
        t_send = time.perf_counter()
        http.send("POST", "/v1/verify", {"user": uid, "code": code}, bearer(agent_token))
        t_reply = t_notice = None
        deadline = t_send + 5
        while t_reply is None or t_notice is None:
            if t_reply is None:
                reply = http.try_parse()
                if reply is not None:
                    t_reply = time.perf_counter()
                    if reply[0] != 200 or b'"valid":true' not in reply[2]:
                        problems.append("verify of %s on %s: %d %r" % (uid, node_b.name, reply[0], reply[2][:200]))
                        t_notice = t_notice or float("nan")
                    continue
            if t_notice is None and _ws_frame_pending(ws):
                if ws.receive(timeout=1).get("type") == "verified":
                    t_notice = time.perf_counter()
                continue
            left = deadline - time.perf_counter()
            socks = ([http.sock] if t_reply is None else []) + ([ws.sock] if t_notice is None else [])
            ready = readable(socks, max(left, 0))
            t_ready = time.perf_counter()  # both sockets' data is stamped when select saw it
            if not ready:
                problems.append("no %s within 5 s for %s" % ("reply" if t_reply is None else "notice", uid))
                break
            for s in ready:
                if s is http.sock:
                    http.read_some()
                    reply = http.try_parse()
                    if reply is not None:
                        t_reply = t_ready
                        if reply[0] != 200 or b'"valid":true' not in reply[2]:
                            problems.append("verify of %s on %s: %d %r" % (uid, node_b.name, reply[0], reply[2][:200]))
                            t_notice = t_notice or float("nan")
                elif ws.receive(timeout=1).get("type") == "verified":
                    t_notice = t_ready
        ws.close()
        if t_reply is not None and t_notice is not None and t_notice == t_notice:
            samples.append({"reply_to_notice": (t_notice - t_reply) * 1e3,
                            "send_to_notice": (t_notice - t_send) * 1e3,
                            "send_to_reply": (t_reply - t_send) * 1e3})
        if len(problems) > 10:
            break
    http.close()
    return samples, problems


def block_samples(node_a, node_b, service_token, count, failures=5):
    """One sample per fresh address: {'reply_to_429', 'send_to_429', 'send_to_reply', 'polls'}."""
    samples, problems = [], []
    to_b, to_a = Http(node_b.port), Http(node_a.port)
    for j in range(count):
        ip = "198.18.%d.%d" % (j // 250, j % 250 + 1)  # RFC 2544 benchmarking range
        body = {"ip": ip, "username": "bench-block-%d@bench.example" % j, "success": False}
        for _ in range(failures):
            t_send = time.perf_counter()
            status, _, reply = to_b.request("POST", "/v1/login/result", body, bearer(service_token))
            if status != 200:
                problems.append("login/result on %s: %d %r" % (node_b.name, status, reply[:200]))
                break
        t_reply = time.perf_counter()
        if status != 200 or b'"blocked":true' not in reply:
            problems.append("the fifth failure for %s did not block: %r" % (ip, reply[:200]))
            continue
        polls = 0
        while True:
            status, _, _ = to_a.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": ip})
            polls += 1
            now = time.perf_counter()
            if status == 429:
                samples.append({"reply_to_429": (now - t_reply) * 1e3, "send_to_429": (now - t_send) * 1e3,
                                "send_to_reply": (t_reply - t_send) * 1e3, "polls": polls})
                break
            if status != 204 or now - t_reply > 5:
                problems.append("gate on %s for %s: %d after %.0f ms" % (node_a.name, ip, status, (now - t_reply) * 1e3))
                break
        if len(problems) > 10:
            break
    to_a.close()
    to_b.close()
    return samples, problems
