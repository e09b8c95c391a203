"""Integration: PUT /v1/admin/lists/{name} streams its body to disk (docs/lists.md).

Against the real callsignd: a ~300 MiB set file uploads while the server's memory stays flat
(VmHWM and RssAnon from /proc), and the uploaded file is installed as the list's source with
its SHA-256 in the audit entry."""
import hashlib
import os
import struct
import threading
import time

from harness import audit_entries, bearer, check, parse_args, run_cases
from list_upload_api import (HEADER_SIZE, MIB, connect, leftovers, list_item, read_response, small_password_set,
                             upload_head, with_server)

ARGS, _ = parse_args()


def proc_status(pid):
    """VmHWM, VmRSS and RssAnon of a process, in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon"):
                out[key] = int(value.split()[0]) * 1024
    return out


def password_set(path, count):
    """Writes a valid exposed-passwords set file (hash_set_format.hpp, version 2) of `count`
    ascending 8-byte entries followed by its page index; returns the SHA-256 of the whole file."""
    stride = (1 << 64) // (count + 1)
    entry = lambda i: (i + 1) * stride  # noqa: E731  the i-th entry's value
    checksum = hashlib.sha256()  # entries, then the page index
    block = 1 << 20
    with open(path, "wb") as f:
        f.write(b"\0" * HEADER_SIZE)
        for start in range(0, count, block):
            n = min(block, count - start)
            data = struct.pack(">%dQ" % n, *[entry(i) for i in range(start, start + n)])
            checksum.update(data)
            f.write(data)
        # Every 4 KiB page of the file that holds an entry: the first entry starting in it.
        last_page = (HEADER_SIZE + (count - 1) * 8) // 4096
        firsts = [0] + [(page * 4096 - HEADER_SIZE) // 8 for page in range(1, last_page + 1)]
        index = struct.pack(">%dQ" % len(firsts), *[entry(i) for i in firsts])
        checksum.update(index)
        f.write(index)
        header = (b"CSHSET\r\n" + struct.pack("<IIIIQ", 2, 2, 8, 4096, count) + b"\0" * 8 + checksum.digest())
        f.seek(0)
        f.write(header + b"\0" * (HEADER_SIZE - len(header)))
    whole = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(4 * MIB), b""):
            whole.update(piece)
    return whole.hexdigest()


@with_server(ARGS, "")
def test_a_large_set_streams_with_flat_memory(server, token, work):
    # Warm up the upload path once (worker threads, allocator pools), then measure.
    small = small_password_set(ARGS.callsign, work)
    status, _, raw = server.request("PUT", "/v1/admin/lists/exposed_passwords", small,
                                    bearer(token, {"Content-Type": "application/octet-stream"}))
    check(status == 200, "warm-up upload: %d %r" % (status, raw[:300]))

    count = 300 * MIB // 8
    path = os.path.join(work, "large.set")
    file_sha256 = password_set(path, count)
    size = os.path.getsize(path)
    pid = server.proc.pid
    before = proc_status(pid)
    peak_anon = [before["RssAnon"]]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak_anon[0] = max(peak_anon[0], proc_status(pid)["RssAnon"])
            except OSError:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sock = connect(server, timeout=600)
    try:
        sock.sendall(upload_head(token, "exposed_passwords", size))
        with open(path, "rb") as f:
            for piece in iter(lambda: f.read(MIB), b""):
                sock.sendall(piece)
        status, headers, raw = read_response(sock)
    finally:
        sock.close()
        done.set()
        sampler.join()
    after = proc_status(pid)
    hwm_growth = after["VmHWM"] - before["VmHWM"]
    anon_growth = peak_anon[0] - before["RssAnon"]
    print("upload %d bytes: VmHWM %d -> %d (+%.1f MiB), peak RssAnon +%.1f MiB" %
          (size, before["VmHWM"], after["VmHWM"], hwm_growth / MIB, anon_growth / MIB))
    check(status == 200, "large upload: %d %r" % (status, raw[:300]))
    # A body held in memory would need at least `size` (300 MiB).
    check(hwm_growth < 64 * MIB, "VmHWM grew by %d bytes for a %d-byte upload" % (hwm_growth, size))
    check(anon_growth < 64 * MIB, "RssAnon peaked %d bytes higher during a %d-byte upload" % (anon_growth, size))
    item = list_item(server, token, "exposed_passwords")
    check(item["version"] == 2 and item["entries"] == count, "after the large upload: %r" % item)
    check(not leftovers(server), "upload files left: %r" % leftovers(server))
    check(os.path.getsize(item["source"]) == size, "the source is not the uploaded file")
    entry = [e for e in audit_entries(server, token) if e["action"] == "lists.upload"][-1]
    check(entry["outcome"] == "reloaded" and entry["details"]["bytes"] == str(size), "audit %r" % entry)
    check(entry["details"]["upload_sha256"] == file_sha256, "audit upload_sha256 %r" % entry["details"])


if __name__ == "__main__":
    raise SystemExit(run_cases([
        ("a_large_set_streams_with_flat_memory", test_a_large_set_streams_with_flat_memory),
    ]))
