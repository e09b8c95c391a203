#!/usr/bin/env python3
"""Helper for tools/bench/login_check (not a test).

  make_login_checks.py hibp --count N --out FILE
      writes N HIBP-format lines (SHA1HEX:COUNT) of generated passwords "pwned-<i>".
  make_login_checks.py devices --count N --out FILE
      writes N device serials "SN-BENCH-<i>".
  make_login_checks.py requests --union FILE --pairs CSV --count N --threads T --out FILE
      writes N POST /v1/login/check bodies for tools/bench/verify_mix.lua ("<thread>\\t1\\t<JSON>"):
      every request carries all four inputs. A third of the addresses come from the open-proxy
      union, the rest are random; a third of the credentials are real default pairs from CSV,
      a third a generated HIBP password with a random user, a third random; half the devices
      are managed.
"""
import argparse
import csv
import hashlib
import io
import json
import random


AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
          "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
          "curl/8.4.0", "python-requests/2.31.0"]
PATHS = ["/login", "/login", "/account/login", "/api/v2/session", "/sso/callback"]


def http_members(rng):
    """What a login front-end forwards for the rules: mostly browsers, some tools, scores 1..99."""
    members = {"path": rng.choice(PATHS), "method": "POST" if rng.random() < 0.8 else "GET",
               "host": "shop.example.com", "user_agent": rng.choice(AGENTS) if rng.random() < 0.9 else AGENTS[0],
               "headers": {"accept-language": rng.choice(["en-US,en;q=0.9", "de-DE", "fr-FR,fr;q=0.8"]),
                           "x-request-source": rng.choice(["web", "app"])}}
    if rng.random() < 0.85:
        members["bot_score"] = rng.randint(1, 99)
    return members


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hibp")
    h.add_argument("--count", type=int, required=True)
    h.add_argument("--out", required=True)
    d = sub.add_parser("devices")
    d.add_argument("--count", type=int, required=True)
    d.add_argument("--out", required=True)
    r = sub.add_parser("requests")
    r.add_argument("--union", required=True)
    r.add_argument("--pairs", required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--threads", type=int, required=True)
    r.add_argument("--hibp-count", type=int, default=100000)
    r.add_argument("--devices", type=int, default=1000)
    r.add_argument("--http", action="store_true",
                   help="add the HTTP members the rules read (path, method, user agent, headers, bot score)")
    r.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(11)
    if args.cmd == "hibp":
        with open(args.out, "w") as f:
            for i in range(args.count):
                f.write("%s:%d\n" % (hashlib.sha1(("pwned-%d" % i).encode()).hexdigest().upper(), i % 1000 + 1))
        return
    if args.cmd == "devices":
        with open(args.out, "w") as f:
            for i in range(args.count):
                f.write("SN-BENCH-%06d\n" % i)
        return
    with open(args.union) as f:
        listed = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    with open(args.pairs, "rb") as f:
        rows = list(csv.reader(io.TextIOWrapper(f, encoding="utf-8", newline="")))[1:]
    pairs = [(r[1], r[2]) for r in rows if r[1].strip()]
    with open(args.out, "w") as out:
        for i in range(args.count):
            kind = i % 3
            ip = rng.choice(listed) if kind == 0 else "%d.%d.%d.%d" % (
                rng.randint(11, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
            which = (i // 3) % 3
            if which == 0:
                username, password = rng.choice(pairs)
            elif which == 1:
                username, password = "user-%d" % rng.randint(0, 10**9), "pwned-%d" % rng.randrange(args.hibp_count)
            else:
                username, password = "user-%d" % rng.randint(0, 10**9), "pw-%016x" % rng.getrandbits(64)
            serial = "SN-BENCH-%06d" % rng.randrange(args.devices * 2)
            doc = {"ip": ip, "username": username, "password": password, "device_serial": serial}
            if args.http:
                doc.update(http_members(rng))
            body = json.dumps(doc, separators=(",", ":"))
            out.write("%d\t1\t%s\n" % (i % args.threads, body))


if __name__ == "__main__":
    main()
