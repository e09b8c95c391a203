#!/usr/bin/env python3
"""Helper for tools/bench/verify (not a test).

  make_verify_requests.py users    --port P --admin-token-file F --count N
      creates bench-user-00000 .. bench-user-<N-1> with PUT /v1/users/{id} (phone_support on),
      over a few keep-alive connections.

  make_verify_requests.py requests --data-dir DIR [--first I] --count N --threads T --agents A --out FILE
      writes the POST /v1/verify bodies wrk replays (tools/bench/verify_mix.lua), one a line:
      "<wrk thread>\\t<agent 1..A>\\t<JSON body>". For users I .. I+N-1: each one's current
      phone token (valid), a wrong code (invalid) and the same valid code again (replayed), so a
      third of each. A user's three requests go to the same wrk thread, the replay after the valid one.
      Codes are computed from DIR/master.key exactly as docs/crypto.md says, so the file must be
      used within about 30 s (a code is accepted in its own and the next 30-second step).

  make_verify_requests.py code --data-dir DIR --user ID --time UNIX
      prints one phone token, to check this file's derivation against `callsign phone-token`.

  make_verify_requests.py outcomes --after SEQ < export.jsonl
      counts the verify outcomes in `callsign audit export` output above SEQ.
"""
import argparse
import collections
import hashlib
import hmac
import http.client
import json
import random
import struct
import sys
import threading
import time

PERIOD = 30
DIGITS = 6


def user_id(i):
    return "bench-user-%05d" % i


def user_email(i):
    return "bench-user-%05d@bench.example" % i


def load_master_key(data_dir):
    """The current (highest) version of DIR/master.key: lines '<version> <64 hex>'."""
    best = None
    with open(data_dir + "/master.key", encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            version, hexkey = line.split()
            if best is None or int(version) > best[0]:
                best = (int(version), bytes.fromhex(hexkey))
    if best is None:
        sys.exit("make_verify_requests: no key in %s/master.key" % data_dir)
    return best[1]


def phone_token(master, uid, step):
    secret = hmac.new(master, b"callsign phone-token\x00" + uid.encode(), hashlib.sha256).digest()
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%0*d" % (DIGITS, value % 10 ** DIGITS)


def create_users(args):
    with open(args.admin_token_file, encoding="ascii") as f:
        token = f.read().strip()
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    failures = []
    next_index = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= args.count:
                break
            body = json.dumps({"email": user_email(i), "phone_support": True})
            conn.request("PUT", "/v1/users/" + user_id(i), body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status not in (200, 201):
                with lock:
                    failures.append("%s: %d %s" % (user_id(i), response.status, data[:200]))
                break
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit("make_verify_requests: creating users failed: " + "; ".join(failures[:3]))
    print("created %d users in %.1f s" % (args.count, time.monotonic() - started))


def write_requests(args):
    master = load_master_key(args.data_dir)
    now = int(time.time())
    step = now // PERIOD
    rng = random.Random(args.seed)
    # Blocks of users: first their valid codes, then their wrong codes and replays interleaved,
    # as an agent's retries arrive a little after the first attempt. Block b goes to wrk thread
    # b % threads, so a user's requests stay in one thread's order.
    block = 64
    lines = []
    end = args.first + args.count
    for b, first in enumerate(range(args.first, end, block)):
        thread = b % args.threads
        valid, rest = [], []
        for i in range(first, min(first + block, end)):
            uid = user_id(i)
            code = phone_token(master, uid, step)
            # A wrong code: not this step's token and not the previous step's.
            older = phone_token(master, uid, step - 1)
            wrong = "%06d" % ((int(code) + 1 + rng.randrange(999_998)) % 10 ** DIGITS)
            while wrong in (code, older):
                wrong = "%06d" % rng.randrange(10 ** DIGITS)
            agent = 1 + i % args.agents
            who = {"user": uid} if i % 2 == 0 else {"email": user_email(i)}
            ticket = "T-%d" % (100000 + i)
            valid.append((agent, dict(who, code=code, ticket=ticket)))
            rest.append((agent, dict(who, code=wrong, ticket=ticket)))
            rest.append((agent, dict(who, code=code, ticket=ticket, reason="caller repeated the code")))
        rng.shuffle(valid)
        # Keep each user's replay after its valid attempt: valid block first, then the rest.
        rng.shuffle(rest)
        for agent, body in valid + rest:
            lines.append("%d\t%d\t%s" % (thread, agent, json.dumps(body, separators=(",", ":"))))
    with open(args.out, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print("%d requests for %d users (step %d, %d s left in it)" % (len(lines), args.count, step,
                                                                   PERIOD - now % PERIOD))


def print_code(args):
    print(phone_token(load_master_key(args.data_dir), args.user, args.time // PERIOD))


def count_outcomes(args):
    outcomes = collections.Counter()
    for line in sys.stdin:
        entry = json.loads(line)
        if entry["seq"] > args.after and entry["action"] == "verify":
            outcomes[entry["outcome"]] += 1
    total = sum(outcomes.values())
    print("verify_audit_entries %d" % total)
    for name in ("valid", "invalid", "replayed", "throttled", "unknown_user", "not_eligible"):
        print("verify_outcome_%s %d" % (name, outcomes.pop(name, 0)))
    for name, n in sorted(outcomes.items()):
        print("verify_outcome_%s %d" % (name, n))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    users = sub.add_parser("users")
    users.add_argument("--port", type=int, required=True)
    users.add_argument("--admin-token-file", required=True)
    users.add_argument("--count", type=int, required=True)
    users.add_argument("--connections", type=int, default=8)
    requests = sub.add_parser("requests")
    requests.add_argument("--data-dir", required=True)
    requests.add_argument("--first", type=int, default=0)
    requests.add_argument("--count", type=int, required=True)
    requests.add_argument("--threads", type=int, required=True)
    requests.add_argument("--agents", type=int, default=8)
    requests.add_argument("--seed", type=int, default=1)
    requests.add_argument("--out", required=True)
    code = sub.add_parser("code")
    code.add_argument("--data-dir", required=True)
    code.add_argument("--user", required=True)
    code.add_argument("--time", type=int, required=True)
    outcomes = sub.add_parser("outcomes")
    outcomes.add_argument("--after", type=int, default=0)
    args = parser.parse_args()
    {"users": create_users, "requests": write_requests, "code": print_code,
     "outcomes": count_outcomes}[args.command](args)


if __name__ == "__main__":
    main()
