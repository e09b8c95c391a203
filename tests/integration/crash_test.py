"""Crash safety: verify and failed-login load while callsignd is killed with SIGKILL at random moments.

After every restart on the same data directory:
- every request that got a 2xx has its audit entry, with the outcome the client was told;
- `callsign audit verify` passes;
- no code is accepted twice, across crashes included (the client tallies every valid:true,
  and after each restart replays every accepted code that is still inside its window);
- failed logins (POST /v1/login/result) run alongside; an address blocked before the crash is
  still blocked after it, and an address one failure short of the limit is blocked by one more;
- failure counters are intact: users that reached their failure limit before the crash are
  still throttled after it;
- each kill is the planned one: the old server's exit status is -9 (SIGKILL) and its stderr has
  no sanitizer report, so an abort or a segfault under load is not mistaken for it; the last
  server exits 0 on SIGTERM;
- nothing fails on the way: a 5xx reply, or a connection error before the kill, fails the test;
  connection errors are expected only once the kill has begun.

`--rounds N` (default 10) sets the number of crashes; tools/bench/crash runs it longer.
"""
import json
import random
import signal
import sys
import threading
import time
import traceback
import http.client

from harness import (Server, check, cli, json_headers, mint_token, parse_args, phone_token_at,
                     run_cases, wrong_code)

ARGS, REST = parse_args()
ROUNDS = 10
for i, arg in enumerate(REST):
    if arg == "--rounds" and i + 1 < len(REST):
        ROUNDS = int(REST[i + 1])

PERIOD = 30


def pinned_window(now, longest=86400, shortest=43200):
    """A window length whose current window has at least 3/4 of its length to run.

    The failure counters are a two-window weighted estimate over windows aligned to multiples of
    the length: once a boundary passes, the previous window's failures count with a weight that
    falls from 1, so a user at exactly the limit is no longer throttled. With a window chosen so
    that the next boundary is at least 9 hours away, every throttle, block and counter check
    applies at any time of day (a fixed day-long window skipped them near midnight UTC)."""
    now = int(now)
    for length in range(longest, shortest, -1):
        if now % length <= length // 4:
            return length
    raise AssertionError("no window length fits")  # the loop always finds one


WINDOW = pinned_window(time.time())
WINDOW_END = (int(time.time()) // WINDOW + 1) * WINDOW
LOGIN_LIMIT = 5  # failed logins per address that block it (for a day, over a day-long window)
USER_LIMIT = 100  # above what one round of load gives a user; the limited users reach it
CONFIG = """
[log]
level = "warn"

[verify]
window_seconds = %d
user_failures = %d
agent_failures = 1000000
ip_failures = 1000000

[[login.rules]]
name = "crash-ip"
key = "ip"
limit = %d
window_seconds = %d
block_seconds = %d
""" % (WINDOW, USER_LIMIT, LOGIN_LIMIT, WINDOW, WINDOW)

USERS_PER_ROUND = 60  # fresh users each round: with the budget below, up to 3,000 verifies per round
# Requests the load sends one user in its round. Nearly every one can count as a failure (a
# wrong code, or the right one again in a step already used), and after each later restart
# every accepted code still inside its window is replayed once more (another failure: at most
# a few per user over all rounds). So a user of the load stays below USER_LIMIT on a machine of
# any speed, and a 429 for one of them is a bug, not the load's own doing.
LOAD_BUDGET_PER_USER = 50
THREADS = 4


class Cluster:
    """The data dir outlives each callsignd process."""

    def __init__(self):
        self.first = Server(ARGS.callsignd, CONFIG)
        self.server = self.first
        self.data_dir = self.first.data_dir
        self.admin = mint_token(ARGS.callsign, self.data_dir, "admin", "ops-crash")
        self.agents = [mint_token(ARGS.callsign, self.data_dir, "agent", "agent-%d" % i) for i in range(THREADS)]
        self.service = mint_token(ARGS.callsign, self.data_dir, "service", "login-frontend")

    def restart_after_kill(self, killing):
        """SIGKILL the server (after setting `killing`: connection errors are expected from now
        on), check that the kill is what ended it, and start a new one on the same data dir."""
        killing.set()
        code = self.server.stop(sig=signal.SIGKILL)
        problem = self.server.exit_problem()
        check(code == -signal.SIGKILL and not problem,
              "the server did not end by the planned SIGKILL (status %s): %s" % (code, problem))
        if self.server is not self.first:
            self.server.cleanup()
        self.server = Server(ARGS.callsignd, CONFIG, data_dir=self.data_dir)

    def close(self):
        if self.server is not self.first:
            self.server.cleanup()
        self.first.cleanup()


class Tally:
    """What the clients were told, shared by the load threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answered = {}  # request id -> outcome the journal must hold
        self.accepted = {}  # (user, step) -> times valid:true was answered
        self.accepted_codes = []  # (user, step, code)
        self.server_errors = []  # (request id, status, body): any 5xx fails the round
        self.unexpected = []  # other statuses, errors before the kill, exceptions in the threads
        self.kill_errors = 0  # connection errors once the kill had begun: expected
        self.sent = {}  # user -> verify requests the load sent it (LOAD_BUDGET_PER_USER at most)

    def take_budget(self, user):
        """True, and counts one request, while `user` is under LOAD_BUDGET_PER_USER."""
        with self.lock:
            if self.sent.get(user, 0) >= LOAD_BUDGET_PER_USER:
                return False
            self.sent[user] = self.sent.get(user, 0) + 1
            return True

    def refused(self, request_id, status, body, expected=(200, 429)):
        """Keeps a reply whose status is not `expected`; returns True for one."""
        if status in expected:
            return False
        with self.lock:
            (self.server_errors if status >= 500 else self.unexpected).append(
                "%s: %d %r" % (request_id, status, body[:200]))
        return True

    def record(self, request_id, status, body, user, step, code):
        if self.refused(request_id, status, body):
            return
        with self.lock:
            if status == 429:
                self.answered[request_id] = "throttled"
                return
            reply = json.loads(body)
            self.answered[request_id] = None  # any verify outcome; checked to exist
            if reply["valid"]:
                self.answered[request_id] = "valid"
                self.accepted[(user, step)] = self.accepted.get((user, step), 0) + 1
                self.accepted_codes.append((user, step, code))


    def record_login(self, request_id, status, body):
        if self.refused(request_id, status, body, expected=(200,)):
            return
        with self.lock:
            self.answered[request_id] = "failure"  # the journal's outcome of a failed login

    def run(self, what, killing, body):
        """Runs a load thread's loop. A connection error ends it: expected once the kill has
        begun, a failure before. Any other exception is a failure."""
        try:
            body()
        except (OSError, http.client.HTTPException) as exc:
            with self.lock:
                if killing.is_set():
                    self.kill_errors += 1
                else:
                    self.unexpected.append("%s: %r before the kill" % (what, exc))
        except Exception:  # noqa: BLE001 - reported by the round's checks
            with self.lock:
                self.unexpected.append("%s: %s" % (what, traceback.format_exc(limit=4)))


def login_failure(conn, service_token, request_id, ip):
    conn.request("POST", "/v1/login/result", json.dumps({"ip": ip, "username": "crash-login", "success": False}),
                 dict(json_headers(service_token), **{"X-Request-Id": request_id}))
    response = conn.getresponse()
    return response.status, response.read()


def login_load(cluster, tally, round_no, stop):
    """Failed logins from 16 addresses of this round (each blocked after LOGIN_LIMIT), until the kill."""
    conn = http.client.HTTPConnection("127.0.0.1", cluster.server.port, timeout=10)
    n = 0
    try:
        while not stop.is_set():
            request_id = "crash-login-%d-%d" % (round_no, n)
            status, body = login_failure(conn, cluster.service, request_id, "10.%d.0.%d" % (round_no, n % 16))
            n += 1
            tally.record_login(request_id, status, body)
    finally:
        conn.close()


def login_signals(cluster, ip):
    status, _, body = cluster.server.json("POST", "/v1/login/check", json.dumps({"ip": ip}),
                                          json_headers(cluster.service))
    check(status == 200, "login check for %s: %d %r" % (ip, status, body))
    return body


def fail_logins(cluster, ip, times):
    for n in range(times):
        status, _, body = cluster.server.json("POST", "/v1/login/result",
                                              json.dumps({"ip": ip, "username": "crash-login", "success": False}),
                                              json_headers(cluster.service))
        check(status == 200, "failed login %d for %s: %d %r" % (n, ip, status, body))


def verify_on(conn, agent_token, request_id, body):
    conn.request("POST", "/v1/verify", json.dumps(body),
                 dict(json_headers(agent_token), **{"X-Request-Id": request_id}))
    res = conn.getresponse()
    return res.status, res.read()


def load(cluster, tally, round_no, thread_no, stop):
    """Valid codes for a shuffled walk over the users, plus wrong codes, until the kill."""
    rng = random.Random(round_no * 100 + thread_no)
    users = round_users(round_no)
    port = cluster.server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 0
    try:
        while not stop.is_set():
            user = rng.choice(users)
            if not tally.take_budget(user):
                if all(tally.sent.get(u, 0) >= LOAD_BUDGET_PER_USER for u in users):
                    stop.wait(0.05)  # every user's budget is spent: idle until the kill
                continue
            step = int(time.time() // PERIOD)
            right = phone_token_at(cluster.data_dir, user, step)
            code = right if rng.random() < 0.6 else wrong_code(right, phone_token_at(cluster.data_dir, user, step - 1))
            request_id = "crash-%d-%d-%d" % (round_no, thread_no, n)
            n += 1
            status, body = verify_on(conn, cluster.agents[thread_no], request_id, {"user": user, "code": code})
            tally.record(request_id, status, body, user, step, code)
    finally:
        conn.close()


def journal(cluster):
    out = cli(ARGS.callsign, "audit", "export", "--data-dir", cluster.data_dir)
    check(out.returncode == 0, "audit export failed: %s" % out.stderr)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def round_users(round_no):
    return ["crash-r%03d-u%02d" % (round_no, i) for i in range(USERS_PER_ROUND)]


def put_user(cluster, user):
    status, _, body = cluster.server.json("PUT", "/v1/users/" + user,
                                          json.dumps({"email": user + "@example.com", "phone_support": True}),
                                          json_headers(cluster.admin))
    check(status in (200, 201), "PUT %s: %d %r" % (user, status, body))


def exhaust_failures(cluster, user):
    """USER_LIMIT wrong codes, each answered 200 valid:false, so the next is throttled."""
    step = int(time.time() // PERIOD)
    bad = wrong_code(phone_token_at(cluster.data_dir, user, step), phone_token_at(cluster.data_dir, user, step - 1),
                     phone_token_at(cluster.data_dir, user, step + 1))
    conn = http.client.HTTPConnection("127.0.0.1", cluster.server.port, timeout=30)
    try:
        for n in range(USER_LIMIT):
            status, body = verify_on(conn, cluster.agents[0], "exhaust-%s-%d" % (user, n), {"user": user, "code": bad})
            check(status == 200 and json.loads(body)["valid"] is False, "failure for %s: %d %r" % (user, status, body))
    finally:
        conn.close()


def test_sigkill_under_verify_load():
    cluster = Cluster()
    tally = Tally()
    try:
        rng = random.Random(7)
        throttled_users = []
        blocked_ips = []
        load_blocks = 0  # blocks the login load itself tripped, across all rounds
        for round_no in range(ROUNDS):
            # Counters: this round's user reaches its limit before the crash.
            for user in round_users(round_no):
                put_user(cluster, user)
            limited = "crash-limited-%03d" % round_no
            put_user(cluster, limited)
            exhaust_failures(cluster, limited)
            throttled_users.append(limited)
            # Blocks: this round's address is blocked before the crash. Counters: another one is
            # one failure short of a block, so one more after the restart must block it.
            blocked_ip, counted_ip = "198.51.100.%d" % round_no, "203.0.113.%d" % round_no
            fail_logins(cluster, blocked_ip, LOGIN_LIMIT)
            check(login_signals(cluster, blocked_ip)["blocked"] is True, "round %d: %s not blocked" % (round_no, blocked_ip))
            blocked_ips.append(blocked_ip)
            fail_logins(cluster, counted_ip, LOGIN_LIMIT - 1)
            check(login_signals(cluster, counted_ip)["blocked"] is False,
                  "round %d: %s blocked below the limit" % (round_no, counted_ip))

            stop, killing = threading.Event(), threading.Event()
            threads = [threading.Thread(target=tally.run, args=("verify load %d" % t, killing,
                                                                 lambda t=t: load(cluster, tally, round_no, t, stop)))
                       for t in range(THREADS)]
            threads.append(threading.Thread(target=tally.run, args=("login load", killing,
                                                                    lambda: login_load(cluster, tally, round_no, stop))))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 1.5))  # the kill's moment, at random under load
            try:
                cluster.restart_after_kill(killing)  # SIGKILL mid-load, then start on the same data dir
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=30)
            check(not any(t.is_alive() for t in threads), "round %d: a load thread still runs 30 s after the kill" %
                  round_no)
            check(not tally.server_errors, "round %d: %d 5xx replies, e.g. %s" %
                  (round_no, len(tally.server_errors), tally.server_errors[:3]))
            check(not tally.unexpected, "round %d: %d unexpected replies or errors, e.g. %s" %
                  (round_no, len(tally.unexpected), tally.unexpected[:3]))

            entries = journal(cluster)
            # A failed login that trips a rule also writes a login.block entry under its request
            # id; the request's own entry is the other one (login.result, or the verify entry).
            by_request = {e.get("request_id"): e for e in entries if e.get("action") != "login.block"}
            load_blocks += sum(1 for e in entries if e.get("action") == "login.block" and
                               str(e.get("request_id", "")).startswith("crash-login-%d-" % round_no))
            missing = [rid for rid in tally.answered if rid not in by_request]
            check(not missing, "round %d: %d answered requests have no audit entry, e.g. %s" %
                  (round_no, len(missing), missing[:3]))
            for rid, outcome in tally.answered.items():
                if outcome is not None:
                    check(by_request[rid]["outcome"] == outcome, "round %d: %s answered %s, journal says %s" %
                          (round_no, rid, outcome, by_request[rid]["outcome"]))
            verified = cli(ARGS.callsign, "audit", "verify", "--data-dir", cluster.data_dir)
            check(verified.returncode == 0, "round %d: audit verify failed: %s %s" %
                  (round_no, verified.stdout, verified.stderr))

            twice = {k: v for k, v in tally.accepted.items() if v > 1}
            check(not twice, "round %d: codes accepted more than once: %r" % (round_no, twice))
            now_step = int(time.time() // PERIOD)
            for user, step, code in tally.accepted_codes:
                if step >= now_step - 1:  # still inside its window: only the replay mark refuses it
                    status, _, body = cluster.server.request("POST", "/v1/verify",
                                                             json.dumps({"user": user, "code": code}),
                                                             json_headers(cluster.agents[1]))
                    check(status == 200 and json.loads(body)["valid"] is False,
                          "round %d: accepted code for %s replayed after the crash: %d %r" %
                          (round_no, user, status, body))
            check(time.time() < WINDOW_END, "the run outlived its %d s window: the checks below would not hold" % WINDOW)
            for user in throttled_users:
                status, headers, body = cluster.server.request(
                    "POST", "/v1/verify", json.dumps({"user": user, "code": "000000"}),
                    json_headers(cluster.agents[2]))
                check(status == 429 and int(headers.get("retry-after", "0")) >= 1,
                      "round %d: %s reached its failure limit before the crash but got %d %r" %
                      (round_no, user, status, body))
            for ip in blocked_ips:
                signals = login_signals(cluster, ip)
                check(signals["blocked"] is True and signals["retry_after"] >= 1,
                      "round %d: %s was blocked before the crash but not after: %r" % (round_no, ip, signals))
            fail_logins(cluster, counted_ip, 1)
            check(login_signals(cluster, counted_ip)["blocked"] is True,
                  "round %d: %s had %d failures before the crash; one more did not block it" %
                  (round_no, counted_ip, LOGIN_LIMIT - 1))
            check(login_signals(cluster, "192.0.2.1")["blocked"] is False, "an address never seen is blocked")
        check(len(tally.accepted) > 0, "no verify was ever accepted: the load did not run")
        logins = sum(1 for rid in tally.answered if rid.startswith("crash-login-"))
        check(logins > 0, "no failed login was ever answered: the login load did not run")
        check(load_blocks > 0, "the login load never tripped a block: blocks under load went untested")
        print("  %d crashes, %d answered requests (%d failed logins), %d codes accepted once each, "
              "%d connection errors once a kill had begun; window %d s" %
              (ROUNDS, len(tally.answered), logins, len(tally.accepted), tally.kill_errors, WINDOW), flush=True)
    finally:
        cluster.close()


def main():
    return run_cases([("sigkill_under_verify_load", test_sigkill_under_verify_load)])


if __name__ == "__main__":
    sys.exit(main())
