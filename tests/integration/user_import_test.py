"""Integration: bulk user import (issue 17) against the real callsignd and CLI.
HTTP: POST /v1/admin/users/import with NDJSON counts created/updated/unchanged/failed, reports
each bad line by number without echoing it, is idempotent on re-run (no user write, only the
summary entry), keeps email conflicts inside one file, and refuses non-admins and other media
types. CLI: `callsign users import FILE --data DIR` refuses while callsignd holds the data dir,
imports into the stopped server's dir (exit 1 when a line failed, 0 on a clean re-run), and the
restarted server serves the imported users. Every server stops with SIGTERM and exit 0."""
import json
import os
import sys
import tempfile

from harness import bearer, check, check_problem, cli, parse_args, run_cases
from verify_api import Api

ARGS, _ = parse_args()
NDJSON = {"Content-Type": "application/x-ndjson"}


def line(user_id, email, phone=True):
    return json.dumps({"id": user_id, "email": email, "phone_support": phone})


def post_import(api, text, token=None, headers=NDJSON):
    return api.server.request("POST", "/v1/admin/users/import", text.encode(),
                              bearer(token or api.admin, headers))


def test_http_import():
    api = Api(ARGS)
    try:
        api.put_user("imp-old", "imp-old@example.com", phone_support=False)
        text = "\n".join([
            line("imp-a", "imp-a@example.com"),
            "",
            line("imp-b", "imp-shared@example.com"),
            line("imp-c", "imp-shared@example.com"),  # the same email as line 3
            '{"id":"imp-d","email":"leaked-secret-value","phone_support":true}',
            "{not json",
            line("imp-old", "imp-old@example.com", phone=True),
            line("imp-a", "imp-a2@example.com"),  # the id is on line 1 already
        ]) + "\n"
        before = api.count()
        status, headers, raw = post_import(api, text)
        check(status == 200 and headers.get("content-type") == "application/json", "import: %d %r" % (status, raw))
        body = json.loads(raw)
        check({k: body[k] for k in ("lines", "created", "updated", "unchanged", "failed")} ==
              {"lines": 7, "created": 2, "updated": 1, "unchanged": 0, "failed": 4}, "counts %r" % body)
        check([e["line"] for e in body["errors"]] == [4, 5, 6, 8], "error lines %r" % body["errors"])
        check(body["errors"][0]["reason"] == "that email belongs to another user", "conflict %r" % body["errors"][0])
        check(b"leaked-secret-value" not in raw, "a line's value was echoed: %r" % raw)
        status, _, user = api.server.json("GET", "/v1/users/imp-b", headers=bearer(api.admin))
        check(status == 200 and user["email"] == "imp-shared@example.com" and user["phone_support"], "imp-b %r" % user)
        check_problem(*api.server.request("GET", "/v1/users/imp-c", headers=bearer(api.admin)), 404)
        entries = api.audit()[before:]
        imports = [e for e in entries if e["action"] == "user.import"]
        check(len(imports) == 1 and imports[0]["outcome"] == "partial" and imports[0]["actor_type"] == "admin",
              "summary entries %r" % imports)
        check(imports[0]["details"].get("created") == "2" and imports[0]["details"].get("failed") == "4",
              "summary details %r" % imports[0]["details"])

        # A re-run writes no user and answers "unchanged" for every good line.
        status, _, raw = post_import(api, text)
        body = json.loads(raw)
        check(status == 200 and body["unchanged"] == 3 and body["created"] + body["updated"] == 0,
              "re-run %d %r" % (status, body))
        status, _, user = api.server.json("GET", "/v1/users/imp-old", headers=bearer(api.admin))
        check(user["phone_support"] is True, "imp-old %r" % user)

        # Refusals: an agent, another media type; neither writes anything.
        count = api.count()
        check_problem(*post_import(api, line("imp-x", "imp-x@example.com"), api.token("agent", "a-1")), 403)
        check_problem(*post_import(api, line("imp-x", "imp-x@example.com"),
                                   headers={"Content-Type": "application/json"}), 415)
        check(api.count() == count, "a refused import wrote audit entries")
        check_problem(*api.server.request("GET", "/v1/users/imp-x", headers=bearer(api.admin)), 404)

        # A body far above limits.body_bytes (64 KiB) is taken by this route.
        big = "".join(line("imp-big-%05d" % i, "imp-big-%05d@example.com" % i) + "\n" for i in range(3000))
        check(len(big) > 64 * 1024, "the big body is not big")
        status, _, raw = post_import(api, big)
        body = json.loads(raw)
        check(status == 200 and body["created"] == 3000 and body["failed"] == 0, "big import %d %r" % (status, raw[:300]))
    finally:
        api.close()


def test_cli_import():
    api = Api(ARGS)
    tmp = tempfile.mkdtemp(prefix="callsign-import-")
    try:
        api.put_user("cli-old", "cli-old@example.com")
        path = os.path.join(tmp, "users.ndjson")
        with open(path, "w") as f:
            for i in range(2000):
                f.write(line("cli-%04d" % i, "cli-%04d@example.com" % i, phone=i % 2 == 0) + "\n")
            f.write(line("cli-dup", "cli-old@example.com") + "\n")  # line 2001: cli-old's email
        data_dir = api.data_dir
        out = cli(ARGS.callsign, "users", "import", path, "--data", data_dir)
        check(out.returncode == 1 and "stop callsignd" in out.stderr, "import while running: %d %r" %
              (out.returncode, out.stderr))
        check(api.server.stop() == 0, "callsignd did not stop cleanly")

        out = cli(ARGS.callsign, "users", "import", path, "--data", data_dir, timeout=300)
        check(out.returncode == 1, "an import with a failed line must exit 1: %d %r" % (out.returncode, out.stderr))
        check("2001 lines: 2000 created, 0 updated, 0 unchanged, 1 failed" in out.stdout, "summary %r" % out.stdout)
        check("line 2001: that email belongs to another user" in out.stderr, "error report %r" % out.stderr)
        check("users import: " in out.stderr, "no progress on stderr: %r" % out.stderr)

        with open(path, "w") as f:  # the same users, the bad line dropped: nothing to write
            for i in range(2000):
                f.write(line("cli-%04d" % i, "cli-%04d@example.com" % i, phone=i % 2 == 0) + "\n")
        # FILE after the options works as well as before them.
        out = cli(ARGS.callsign, "users", "import", "--data", data_dir, path, timeout=300)
        check(out.returncode == 0 and "2000 unchanged, 0 failed" in out.stdout, "re-run %d %r %r" %
              (out.returncode, out.stdout, out.stderr))
        # Two directories are a usage error, not a silent choice.
        out = cli(ARGS.callsign, "users", "import", path, "--data", data_dir, "--data-dir", tmp)
        check(out.returncode == 2 and "not both" in out.stderr, "--data and --data-dir: %d %r" %
              (out.returncode, out.stderr))
        out = cli(ARGS.callsign, "users", "import", "--data", data_dir)
        check(out.returncode == 2 and "needs a FILE" in out.stderr, "no FILE: %d %r" % (out.returncode, out.stderr))

        restarted = Api(ARGS, data_dir=data_dir)
        try:
            status, _, user = restarted.server.json("GET", "/v1/users/cli-0042", headers=bearer(restarted.admin))
            check(status == 200 and user["email"] == "cli-0042@example.com" and user["phone_support"], "%r" % user)
            status, _, user = restarted.server.json("GET", "/v1/users/cli-0043", headers=bearer(restarted.admin))
            check(status == 200 and user["phone_support"] is False, "%r" % user)
            imports = [e for e in restarted.audit() if e["action"] == "user.import"]
            check([(e["actor_type"], e["outcome"]) for e in imports] == [("system", "partial"), ("system", "ok")],
                  "CLI summary entries %r" % imports)
        finally:
            restarted.close()
    finally:
        api.close()
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(run_cases([("HTTP import", test_http_import), ("CLI import", test_cli_import)]))
