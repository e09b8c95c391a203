"""Integration: the account-takeover lists of the real callsignd (docs/lists.md).

Uploads the 24 real daily open-proxy versions in order through PUT /v1/admin/lists/{name},
a bad upload (rejected with its line number, the old version still serving), SIGHUP and
POST .../reload, the breach set files built by the real CLI, the upload size limit, and the
audit entries every change leaves."""
import atexit
import csv
import ctypes
import hashlib
import io
import os
import select
import shutil
import struct
import signal
import subprocess
import tempfile
import time

from harness import (Server, audit_entries, bearer, check, check_problem, cli, mint_token, parse_args,
                     run_cases)

ARGS, _ = parse_args()
SHARED = os.environ.get("CALLSIGN_SHARED_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared")
DATA = os.path.join(SHARED, "data")
PROXIES = os.path.join(DATA, "open-proxies")
CREDENTIALS = os.path.join(DATA, "credentials", "default-credentials.csv")
CONFIG = """
[lists]
max_upload_bytes = 2097152
"""


def daily_files():
    return sorted(os.path.join(PROXIES, n) for n in os.listdir(PROXIES) if n.startswith("daily-"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def entries_of(content):
    return len([l for l in content.decode().splitlines() if l.strip() and not l.startswith("#")])


def lists_by_name(server, token):
    status, _, body = server.json("GET", "/v1/admin/lists", headers=bearer(token))
    check(status == 200, "GET /v1/admin/lists: %d %r" % (status, body))
    return {item["name"]: item for item in body["lists"]}


def put_list(server, token, name, content):
    return server.request("PUT", "/v1/admin/lists/" + name, content,
                          bearer(token, {"Content-Type": "application/octet-stream"}))


class OpenWatch:
    """Counts opens of one file in a directory with inotify (IN_OPEN). The refresh reads a text
    list's source on each poll, so an open is a poll that happened: a test can wait for polls
    instead of sleeping."""

    IN_OPEN = 0x20

    def __init__(self, directory, name):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        check(self.fd >= 0, "inotify_init1: errno %d" % ctypes.get_errno())
        check(libc.inotify_add_watch(self.fd, directory.encode(), self.IN_OPEN) >= 0,
              "inotify_add_watch: errno %d" % ctypes.get_errno())
        self.name = name.encode()
        self.opens = 0

    def _read(self, wait):
        while select.select([self.fd], [], [], wait)[0]:
            data = os.read(self.fd, 65536)
            at = 0
            while at < len(data):  # struct inotify_event: wd, mask, cookie, len, name[len]
                _, _, _, size = struct.unpack_from("iIII", data, at)
                name = data[at + 16:at + 16 + size].rstrip(b"\0")
                at += 16 + size
                self.opens += name == self.name
            wait = 0

    def wait_for(self, more, timeout=60):
        """Returns once the source has been opened `more` times from now on."""
        self._read(0)  # opens that happened before this call do not count
        target = self.opens + more
        deadline = time.time() + timeout
        while self.opens < target and time.time() < deadline:
            self._read(0.5)
        check(self.opens >= target, "%d of %d polls of the source within %d s" % (self.opens - target + more, more,
                                                                                timeout))

    def close(self):
        os.close(self.fd)


def with_server(test):
    def run():
        server = Server(ARGS.callsignd, CONFIG)
        try:
            token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")
            test(server, token)
        finally:
            server.cleanup()  # SIGTERM; fails unless callsignd exits 0
    return run


@with_server
def test_fields_and_missing_sources(server, token):
    lists = lists_by_name(server, token)
    check(sorted(lists) == ["exposed_credentials", "exposed_passwords", "managed_devices", "open_proxies"],
          "lists: %r" % sorted(lists))
    for name, item in lists.items():
        for field in ("name", "version", "entries", "sha256", "loaded_at", "source", "last_error"):
            check(field in item, "%s lacks %s: %r" % (name, field, item))
        check(item["version"] == 0 and item["entries"] == 0 and item["loaded_at"] is None, "%r" % item)
        check("does not exist" in item["last_error"], "missing source not reported: %r" % item)
        check(item["source"].startswith(os.path.join(server.data_dir, "lists")), "source %r" % item["source"])


@with_server
def test_daily_versions_in_order_then_a_bad_upload(server, token):
    files = daily_files()
    check(len(files) == 24, "expected 24 daily files, found %d" % len(files))
    for i, path in enumerate(files, start=1):
        content = read(path)
        status, _, raw = put_list(server, token, "open_proxies", content)
        check(status == 200, "PUT %s: %d %r" % (os.path.basename(path), status, raw[:300]))
        item = lists_by_name(server, token)["open_proxies"]
        check(item["version"] == i, "version after %d uploads: %r" % (i, item))
        check(item["entries"] == entries_of(content), "entries %r vs %d" % (item, entries_of(content)))
        check(item["sha256"] == hashlib.sha256(content).hexdigest(), "sha256 of %s" % path)
        check(item["last_error"] is None, "last_error %r" % item["last_error"])
    last = read(files[-1])
    bad = b"# bad version\n1.2.3.4\n\n5.6.7.8:3128\nnot-an-ip-secret\n9.9.9.9\n"
    status, headers, raw = put_list(server, token, "open_proxies", bad)
    problem = check_problem(status, headers, raw, 422, "line 5")
    check("secret" not in problem["detail"], "the bad line's content was echoed: %r" % problem)
    item = lists_by_name(server, token)["open_proxies"]
    check(item["version"] == 24 and item["sha256"] == hashlib.sha256(last).hexdigest(),
          "the old version must keep serving: %r" % item)
    check("line 5" in (item["last_error"] or ""), "last_error %r" % item["last_error"])
    check(read(item["source"]) == last, "the source file changed after a rejected upload")
    leftovers = [n for n in os.listdir(os.path.dirname(item["source"])) if ".upload-" in n]
    check(not leftovers, "upload files left behind: %r" % leftovers)

    # Unknown list, oversized upload.
    status, headers, raw = put_list(server, token, "no_such_list", b"1.2.3.4\n")
    check_problem(status, headers, raw, 404)
    # Declared larger than lists.max_upload_bytes: refused after the header, before any body.
    reply = server.raw(("PUT /v1/admin/lists/open_proxies HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                        "Content-Length: 5000000\r\n\r\n" % token).encode())
    check(reply.startswith(b"HTTP/1.1 413"), "oversized upload: %r" % reply[:200])
    check(lists_by_name(server, token)["open_proxies"]["version"] == 24, "an oversized upload changed the list")

    entries = [e for e in audit_entries(server, token) if e["action"] == "lists.upload"]
    check(len(entries) == 26, "expected 26 lists.upload audit entries, got %d" % len(entries))
    check(entries[25]["outcome"] == "refused" and entries[25]["details"] ==
          {"list": "open_proxies", "reason": "too_large", "bytes_stored": "0"}, "the 413: %r" % entries[25])
    for e in entries[:24]:
        check(e["actor_id"] == "list-admin" and e["outcome"] == "reloaded", "audit entry %r" % e)
        check(e["details"]["list"] == "open_proxies" and len(e["details"]["sha256"]) == 64, "details %r" % e)
        check(int(e["details"]["entries"]) > 0 and int(e["details"]["bytes"]) > 0, "details %r" % e)
    check(entries[24]["outcome"] == "rejected" and "line 5" in entries[24]["details"]["error"], "%r" % entries[24])


@with_server
def test_sighup_and_reload(server, token):
    source = lists_by_name(server, token)["open_proxies"]["source"]
    os.makedirs(os.path.dirname(source), exist_ok=True)
    with open(source, "wb") as f:
        f.write(read(os.path.join(PROXIES, "union.ipset")))
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 60
    item = None
    while time.time() < deadline:
        item = lists_by_name(server, token)["open_proxies"]
        if item["version"] == 1:
            break
        time.sleep(0.1)
    check(item["version"] == 1 and item["entries"] == 74964, "SIGHUP did not load union.ipset: %r" % item)
    # An operator's SIGHUP is audited for every list (admin "sighup"); nothing waits for those
    # entries, so wait for them.

    def by_sighup():
        return [e for e in audit_entries(server, token) if e["action"] == "lists.reload" and e["actor_id"] == "sighup"]
    deadline = time.time() + 60
    while len(by_sighup()) < 4 and time.time() < deadline:
        time.sleep(0.1)
    sighup = {e["details"]["list"]: e for e in by_sighup()}
    check(sorted(sighup) == ["exposed_credentials", "exposed_passwords", "managed_devices", "open_proxies"],
          "SIGHUP audit entries: %r" % by_sighup())
    check(all(e["actor_type"] == "admin" and e["details"]["trigger"] == "SIGHUP" for e in sighup.values()),
          "SIGHUP audit entries: %r" % sighup)
    proxies = sighup["open_proxies"]
    check(proxies["outcome"] == "reloaded" and proxies["details"]["version"] == "1" and
          proxies["details"]["entries"] == "74964" and len(proxies["details"]["sha256"]) == 64, "%r" % proxies)
    # The others have no source file: each refusal names it and keeps the empty list serving.
    for name in ("exposed_credentials", "exposed_passwords", "managed_devices"):
        check(sighup[name]["outcome"] == "rejected" and "does not exist" in sighup[name]["details"]["error"],
              "%s: %r" % (name, sighup[name]))

    # Unchanged content: POST reload swaps nothing.
    status, _, body = server.json("POST", "/v1/admin/lists/open_proxies/reload", headers=bearer(token))
    check(status == 200 and body["changed"] is False and body["list"]["version"] == 1, "%d %r" % (status, body))
    # A broken edit in place: 422 with the line, version 1 keeps serving.
    with open(source, "ab") as f:
        f.write(b"10.0.0.0/33\n")
    status, headers, raw = server.request("POST", "/v1/admin/lists/open_proxies/reload", headers=bearer(token))
    check_problem(status, headers, raw, 422, "line %d" % (74964 + 4))
    check(lists_by_name(server, token)["open_proxies"]["version"] == 1, "a bad reload swapped the list")
    with open(source, "wb") as f:
        f.write(read(daily_files()[0]))
    status, _, body = server.json("POST", "/v1/admin/lists/open_proxies/reload", headers=bearer(token))
    check(status == 200 and body["changed"] is True and body["list"]["version"] == 2, "%d %r" % (status, body))
    outcomes = [e["outcome"] for e in audit_entries(server, token)
                if e["action"] == "lists.reload" and e["actor_id"] == "list-admin"]
    check(outcomes == ["unchanged", "rejected", "reloaded"], "reload audit outcomes %r" % outcomes)
    check(any(r.get("msg") == "list reloaded" and r.get("trigger") == "SIGHUP" for r in server.log_records()),
          "SIGHUP reload not logged")


def test_periodic_refresh_is_audited():
    """The refresh (refresh_seconds) audits what it changed or refused, as the server's own
    action (actor system "refresh"), and neither the polls that found the source unchanged nor
    a refusal it audited already."""
    work = tempfile.mkdtemp(prefix="callsign-lists-")
    atexit.register(shutil.rmtree, work, True)
    source = os.path.join(work, "devices.txt")

    def install(text):
        with open(source + ".new", "w") as f:
            f.write(text)
        os.replace(source + ".new", source)

    install("SN-0001\n")  # loaded at start-up, which is not a reload
    server = Server(ARGS.callsignd, CONFIG + '\n[lists.managed_devices]\npath = "%s"\nrefresh_seconds = 1\n' % source)
    polls = OpenWatch(work, "devices.txt")
    try:
        token = mint_token(ARGS.callsign, server.data_dir, "admin", "list-admin")
        check(lists_by_name(server, token)["managed_devices"]["version"] == 1, "not loaded at start-up")

        def by_refresh():
            return [e for e in audit_entries(server, token) if e["action"] == "lists.reload" and
                    e["actor_id"] == "refresh"]

        def wait_for_refresh_entries(count):
            deadline = time.time() + 60
            while len(by_refresh()) < count and time.time() < deadline:
                time.sleep(0.1)
            entries = by_refresh()
            check(len(entries) == count, "refresh audit entries: %r" % entries)
            return entries

        # Polls that find nothing new leave no entry: two of them pass, then a change. The journal
        # is written in poll order, so the change's entry comes after any entry of those polls.
        polls.wait_for(2)
        install("# managed laptops\nSN-0001\nSN-0002\n")
        loaded = wait_for_refresh_entries(1)[0]
        check(loaded["actor_type"] == "system" and loaded["outcome"] == "reloaded", "%r" % loaded)
        check(loaded["details"]["list"] == "managed_devices" and loaded["details"]["trigger"] == "refresh" and
              loaded["details"]["version"] == "2" and loaded["details"]["entries"] == "2", "%r" % loaded)
        # A broken edit is refused by the refresh, audited, and version 2 keeps serving.
        install("SN-0001\n" + "x" * 200 + "\n")
        refused = wait_for_refresh_entries(2)[1]
        check(refused["outcome"] == "rejected" and "line 2" in refused["details"]["error"], "%r" % refused)
        check(lists_by_name(server, token)["managed_devices"]["version"] == 2, "a refused refresh swapped the list")
        # The source stays broken: the refresh refuses it again on two more polls, audited only
        # once; the repair's entry, written after theirs, must be the next one.
        polls.wait_for(2)
        install("SN-0001\nSN-0003\n")
        repaired = wait_for_refresh_entries(3)[2]
        check(repaired["outcome"] == "reloaded" and repaired["details"]["version"] == "3",
              "a refusal repeated in the journal: %r" % by_refresh())
        check(all("x" * 200 not in str(e) for e in by_refresh()), "the journal shows the list's content")
    finally:
        polls.close()
        server.cleanup()

def unique_pairs():
    """Distinct (normalized username, password) pairs of the CSV, normalized as docs/lists.md says."""
    pairs = set()
    with open(CREDENTIALS, "rb") as f:
        for row in list(csv.reader(io.TextIOWrapper(f, encoding="utf-8", newline="")))[1:]:
            user = row[1].encode().strip(b" \t\n\r\f\v").lower()
            pairs.add((user, row[2].encode()))
    return pairs


def write_key_ring(data_dir):
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    path = os.path.join(data_dir, "master.key")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("1 %s\n" % os.urandom(32).hex())


@with_server
def test_breach_sets_from_the_cli(server, token):
    work = tempfile.mkdtemp(prefix="callsign-lists-")
    atexit.register(shutil.rmtree, work, True)
    out = os.path.join(work, "creds.set")
    built = cli(ARGS.callsign, "breach", "build", "--data-dir", server.data_dir, "--pairs", CREDENTIALS, "--csv",
                "--user-column", "2", "--password-column", "3", "--header", "--out", out, "--run-mb", "8")
    check(built.returncode == 0, "breach build: %s" % built.stderr)
    for secret in ("1234admin", "<blank>"):
        check(secret not in built.stdout + built.stderr, "the CLI printed input values")
    status, _, raw = put_list(server, token, "exposed_credentials", read(out))
    check(status == 200, "PUT exposed_credentials: %d %r" % (status, raw[:300]))
    item = lists_by_name(server, token)["exposed_credentials"]
    check(item["version"] == 1 and item["entries"] == len(unique_pairs()), "%r vs %d" % (item, len(unique_pairs())))

    # A set built with another server's key is refused; the first one keeps serving.
    other_dir = os.path.join(work, "other")
    write_key_ring(other_dir)
    foreign = os.path.join(work, "foreign.set")
    built = cli(ARGS.callsign, "breach", "build", "--data-dir", other_dir, "--pairs", CREDENTIALS, "--csv",
                "--user-column", "2", "--password-column", "3", "--header", "--out", foreign)
    check(built.returncode == 0, "breach build (other key): %s" % built.stderr)
    status, headers, raw = put_list(server, token, "exposed_credentials", read(foreign))
    check_problem(status, headers, raw, 422, "different master key")
    truncated = read(out)[:-7]
    status, headers, raw = put_list(server, token, "exposed_credentials", truncated)
    check_problem(status, headers, raw, 422, "truncated")
    check(lists_by_name(server, token)["exposed_credentials"]["version"] == 1, "a refused set replaced the list")

    # user:password input: a line without a colon is reported by number, nothing written.
    pairs = os.path.join(work, "pairs.txt")
    with open(pairs, "w") as f:
        f.write("alice:pa:ss\nbob:hunter2\nno-colon-secret\n")
    bad_out = os.path.join(work, "bad.set")
    built = cli(ARGS.callsign, "breach", "build", "--data-dir", server.data_dir, "--pairs", pairs, "--out", bad_out)
    check(built.returncode == 1 and "line 3" in built.stderr, "bad pairs: %d %s" % (built.returncode, built.stderr))
    check("no-colon-secret" not in built.stderr and not os.path.exists(bad_out), "bad pairs output")
    check(not [n for n in os.listdir(work) if ".run-" in n or n.endswith(".tmp")], "temp files left")

    # HIBP: real SHA-1s of generated passwords.
    hibp = os.path.join(work, "pwned.txt")
    with open(hibp, "w") as f:
        for i in range(5000):
            f.write("%s:%d\r\n" % (hashlib.sha1(("hibp-%d" % i).encode()).hexdigest().upper(), i + 1))
    pw_out = os.path.join(work, "pwned.set")
    built = cli(ARGS.callsign, "breach", "import-hibp", "--in", hibp, "--out", pw_out)
    check(built.returncode == 0 and "5000 entries" in built.stdout, "import-hibp: %s %s" % (built.stdout, built.stderr))
    status, _, raw = put_list(server, token, "exposed_passwords", read(pw_out))
    check(status == 200, "PUT exposed_passwords: %d %r" % (status, raw[:300]))
    check(lists_by_name(server, token)["exposed_passwords"]["entries"] == 5000, "exposed_passwords entries")
    with open(hibp, "a") as f:
        f.write("NOT-A-HASH:1\n")
    built = cli(ARGS.callsign, "breach", "import-hibp", "--in", hibp, "--out", os.path.join(work, "x.set"))
    check(built.returncode == 1 and "line 5001" in built.stderr, "bad HIBP line: %s" % built.stderr)
    # A wrong --out or a directory as input fails before any input is read (a dump takes hours).
    for args, words in (
            (["build", "--data-dir", server.data_dir, "--pairs", pairs, "--out", os.path.join(work, "no", "x.set")],
             "cannot create " + os.path.join(work, "no", "x.set.tmp")),
            (["import-hibp", "--in", hibp, "--out", work], "cannot write %s: it is a directory" % work),
            (["import-hibp", "--in", work, "--out", os.path.join(work, "y.set")],
             "cannot read %s: it is a directory" % work)):
        built = cli(ARGS.callsign, "breach", *args)
        check(built.returncode == 1 and words in built.stderr and "100.0%" not in built.stderr,
              "breach %s: %d %r" % (args[0], built.returncode, built.stderr))
    check(not os.path.exists(os.path.join(work, "y.set.tmp")), "a refused build left its probe file")

    # Credential sets are not passwords sets.
    status, headers, raw = put_list(server, token, "exposed_passwords", read(out))
    check_problem(status, headers, raw, 422)
    audit = [e for e in audit_entries(server, token) if e["action"] == "lists.upload"]
    check([e["outcome"] for e in audit] == ["reloaded", "rejected", "rejected", "reloaded", "rejected"],
          "upload audit outcomes %r" % [e["outcome"] for e in audit])
    subprocess.run(["rm", "-rf", work], check=False)


@with_server
def test_a_set_file_copied_over_in_place_never_stops_the_server(server, token):
    """`cp new.set serving.set` truncates and rewrites the serving file's inode under callsignd's
    mapping: lookups go on (matching nothing), and the list reloads once the copy is whole."""
    work = tempfile.mkdtemp(prefix="callsign-lists-")
    atexit.register(shutil.rmtree, work, True)
    hibp = os.path.join(work, "pwned.txt")
    with open(hibp, "w") as f:
        for i in range(20000):
            f.write("%s:%d\n" % (hashlib.sha1(("hibp-%d" % i).encode()).hexdigest().upper(), i + 1))
    pw_set = os.path.join(work, "pwned.set")
    built = cli(ARGS.callsign, "breach", "import-hibp", "--in", hibp, "--out", pw_set)
    check(built.returncode == 0, "import-hibp: %s" % built.stderr)
    status, _, raw = put_list(server, token, "exposed_passwords", read(pw_set))
    check(status == 200, "PUT exposed_passwords: %d %r" % (status, raw[:300]))
    service = mint_token(ARGS.callsign, server.data_dir, "service", "login-frontend")

    def exposed(password):
        status, _, body = server.json("POST", "/v1/login/check",
                                      '{"ip": "192.0.2.1", "password": "%s"}' % password,
                                      bearer(service, {"Content-Type": "application/json"}))
        check(status == 200, "login/check: %d %r" % (status, body))
        return body["exposed_password"]

    check(exposed("hibp-7") and exposed("hibp-19999"), "listed passwords are found")
    source = lists_by_name(server, token)["exposed_passwords"]["source"]
    with open(source, "r+b") as f:  # what cp does first: the same inode, emptied
        f.truncate(128)
    check(not any(exposed("hibp-%d" % i) for i in range(0, 20000, 97)), "the truncated set matched")
    deadline = time.time() + 5
    while "rewritten in place" not in (lists_by_name(server, token)["exposed_passwords"]["last_error"] or ""):
        check(time.time() < deadline, "no reload attempt: %r" % lists_by_name(server, token)["exposed_passwords"])
        time.sleep(0.1)
    version = lists_by_name(server, token)["exposed_passwords"]["version"]
    with open(source, "r+b") as f:  # the copy completes, in place
        f.write(read(pw_set))
    deadline = time.time() + 15  # a failed reload is retried every 10 s
    while lists_by_name(server, token)["exposed_passwords"]["version"] == version:
        check(time.time() < deadline, "not reloaded: %r" % lists_by_name(server, token)["exposed_passwords"])
        time.sleep(0.2)
    check(exposed("hibp-7") and not exposed("not-listed-at-all"), "the rewritten set serves")
    check(not lists_by_name(server, token)["exposed_passwords"]["last_error"], "the error cleared")


if __name__ == "__main__":
    raise SystemExit(run_cases([
        ("fields_and_missing_sources", test_fields_and_missing_sources),
        ("daily_versions_in_order_then_a_bad_upload", test_daily_versions_in_order_then_a_bad_upload),
        ("sighup_and_reload", test_sighup_and_reload),
        ("periodic_refresh_is_audited", test_periodic_refresh_is_audited),
        ("breach_sets_from_the_cli", test_breach_sets_from_the_cli),
        ("a_set_file_copied_over_in_place_never_stops_the_server",
         test_a_set_file_copied_over_in_place_never_stops_the_server),
    ]))
