"""Integration: callsignd refuses to start, exit 1 with one log line naming the cause, when its
database cannot be opened (docs/operations.md, "Storage at start-up"): a second callsignd on the
same data dir, a corrupted MANIFEST, and a data dir on a read-only file system (this case needs
root to mount a tmpfs and says loudly when it cannot run). The first server keeps serving."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from harness import Server, check, parse_args, run_cases

ARGS, _ = parse_args()


def start_refused(data_dir):
    """Runs callsignd on `data_dir`; returns (exit status, its 'cannot open database' log record)."""
    proc = subprocess.run([ARGS.callsignd, "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=120)
    import json
    records = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    refusal = next((r for r in records if r.get("msg") == "cannot open database"), None)
    return proc.returncode, refusal, proc.stdout + proc.stderr


def test_a_second_server_on_the_same_data_dir():
    first = Server(ARGS.callsignd)
    try:
        code, refusal, output = start_refused(first.data_dir)
        check(code == 1, "second callsignd exited %d: %r" % (code, output[-500:]))
        check(refusal is not None and "in use by another process" in refusal.get("error", ""),
              "the cause is named: %r" % output[-500:])
        check(first.json("GET", "/readyz")[0] == 200, "the first one still serves")
    finally:
        first.cleanup()


def test_a_corrupted_manifest():
    first = Server(ARGS.callsignd)
    data_dir = first.data_dir
    keep = tempfile.mkdtemp(prefix="callsign-corrupt-")
    try:
        check(first.stop() == 0, "first stop")
        shutil.copytree(data_dir, os.path.join(keep, "data"))
        manifests = glob.glob(os.path.join(keep, "data", "db", "MANIFEST-*"))
        check(len(manifests) == 1, "one MANIFEST: %r" % manifests)
        with open(manifests[0], "r+b") as f:
            content = bytearray(f.read())
            for i in range(20, min(len(content), 120)):
                content[i] ^= 0x5A
            f.seek(0)
            f.write(content)
        code, refusal, output = start_refused(os.path.join(keep, "data"))
        check(code == 1, "exit %d: %r" % (code, output[-500:]))
        check(refusal is not None and "Corruption" in refusal.get("error", ""), "the cause: %r" % output[-500:])
    finally:
        first.cleanup()
        shutil.rmtree(keep, ignore_errors=True)


def test_a_read_only_file_system():
    mount = tempfile.mkdtemp(prefix="callsign-ro-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m,mode=0700", "tmpfs", mount],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        os.rmdir(mount)
        print("SKIPPED case read_only_file_system: cannot mount a tmpfs (%s); needs root" % mounted.stderr.strip())
        return
    try:
        first = Server(ARGS.callsignd, data_dir=os.path.join(mount, "data"))
        check(first.stop() == 0, "first stop")
        first.cleanup()
        remounted = subprocess.run(["mount", "-o", "remount,ro", mount], capture_output=True, text=True)
        check(remounted.returncode == 0, "remount read-only: %s" % remounted.stderr)
        code, refusal, output = start_refused(os.path.join(mount, "data"))
        check(code == 1, "exit %d: %r" % (code, output[-500:]))
        check("Read-only file system" in output, "the cause: %r" % output[-500:])
    finally:
        subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(mount, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_cases([
        ("a_second_server_on_the_same_data_dir", test_a_second_server_on_the_same_data_dir),
        ("a_corrupted_manifest", test_a_corrupted_manifest),
        ("a_read_only_file_system", test_a_read_only_file_system),
    ]))
