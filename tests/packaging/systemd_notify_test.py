#!/usr/bin/env python3
"""Type=notify (issue 20): callsignd started with NOTIFY_SOCKET naming a unix datagram socket this
test owns sends READY=1 only once it is listening and has loaded its lists, and STOPPING=1 when
SIGTERM starts the drain; then it exits 0. A NOTIFY_SOCKET that names nothing changes nothing.
The order is checked, not raced: the test fills its socket's queue first, so callsignd's
sd_notify(READY=1) blocks in sendmsg; while a thread of callsignd is seen blocked there
(/proc/PID/task/*/syscall), its log file (a file, not a pipe) must already hold what READY=1
stands for. Only then is the queue drained and READY=1 read."""
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import SANITIZER_REPORT, check, parse_args, run_cases  # noqa: E402

ARGS, _ = parse_args()


class NotifiedServer:
    def __init__(self, notify_socket):
        self.tmp = tempfile.mkdtemp(prefix="callsign-notify-")
        self.log_path = os.path.join(self.tmp, "log")
        self.port_file = os.path.join(self.tmp, "port")
        env = dict(os.environ, NOTIFY_SOCKET=notify_socket)
        with open(self.log_path, "w") as log, open(os.path.join(self.tmp, "stderr"), "w") as err:
            self.proc = subprocess.Popen([ARGS.callsignd, "--data-dir", os.path.join(self.tmp, "data"), "--listen",
                                          "127.0.0.1:0", "--port-file", self.port_file], stdout=log, stderr=err,
                                         env=env)

    def messages(self):
        with open(self.log_path) as f:
            return [json.loads(line).get("msg") for line in f if line.strip()]

    def port(self):
        with open(self.port_file) as f:
            return int(f.read())

    def readyz(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.port(), timeout=10) as res:
            return res.status

    def stop_and_check(self):
        """SIGTERM (if running), exit 0 and no sanitizer report; removes the temp dir."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = "killed after 30 s"
            with open(os.path.join(self.tmp, "stderr")) as f:
                reports = [l.strip() for l in f if SANITIZER_REPORT.search(l)]
            check(code == 0 and not reports, "callsignd exited %s %s" % (code, reports[:3]))
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def receive(sock, timeout):
    """One datagram's fields, or None when nothing came within `timeout` seconds (0: none queued)."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096).decode()
    except (socket.timeout, BlockingIOError):
        return None
    return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)


# sendmsg's syscall number, as /proc/PID/task/TID/syscall shows it.
SENDMSG = {"x86_64": 46, "aarch64": 211}.get(platform.machine())


def fill_queue(path):
    """Queues datagrams until the socket at `path` takes no more (net.unix.max_dgram_qlen); a
    fresh sender per batch, so no sender's own buffer is what runs out. Returns the count."""
    fillers, count = [], 0
    while True:
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        filler.setblocking(False)
        filler.connect(path)
        fillers.append(filler)
        sent = 0
        try:
            while sent < 64:
                filler.send(b"FILLER=1")
                sent += 1
        except BlockingIOError:
            if sent == 0:
                for f in fillers:
                    f.close()
                return count + sent
        count += sent


def wait_blocked_in_sendmsg(pid, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                    if f.read().split()[0] == str(SENDMSG):
                        return True
            except (OSError, IndexError):
                continue
        time.sleep(0.01)
    return False


def ready_then_stopping():
    check(SENDMSG is not None, "no sendmsg syscall number known for %s: add it to SENDMSG" % platform.machine())
    tmp = tempfile.mkdtemp(prefix="callsign-notify-socket-")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server = None
    try:
        path = os.path.join(tmp, "notify")
        sock.bind(path)
        fillers = fill_queue(path)
        server = NotifiedServer(path)
        check(wait_blocked_in_sendmsg(server.proc.pid, 60), "callsignd never sent a notice (no thread in sendmsg)")
        messages = server.messages()  # callsignd is held inside sd_notify(READY=1) now
        for _ in range(fillers):
            check(receive(sock, 5) == {"FILLER": "1"}, "a filler datagram went missing")
        first = receive(sock, 60)
        check(first is not None and first.get("READY") == "1", "the first notice is not READY=1: %r" % first)
        check(messages.count("list loaded") == 4, "READY=1 came before the 4 lists were loaded: %s" % messages)
        check("serving" in messages, "READY=1 came before the listener was bound: %s" % messages)
        check("shutting down" not in messages, "READY=1 came late: %s" % messages)
        check(server.readyz() == 200, "/readyz after READY=1 is not 200")
        server.proc.send_signal(signal.SIGTERM)
        second = receive(sock, 30)
        check(second is not None and second.get("STOPPING") == "1", "after SIGTERM: %r, not STOPPING=1" % second)
        server.proc.wait(timeout=30)
        # The process is gone, so whatever it sent is queued already.
        check(receive(sock, 0) is None, "a notice after STOPPING=1")
    finally:
        sock.close()
        if server is not None:
            server.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)


def unreachable_socket_changes_nothing():
    server = NotifiedServer("/nonexistent/callsign-notify")
    try:
        deadline = time.time() + 60
        while "serving" not in server.messages() and server.proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        check(server.proc.poll() is None and "serving" in server.messages(), "callsignd did not start serving")
        check(server.readyz() == 200, "/readyz is not 200")
    finally:
        server.stop_and_check()


sys.exit(run_cases([("READY=1 once serving with lists loaded, STOPPING=1 on SIGTERM, exit 0", ready_then_stopping),
                    ("an unreachable NOTIFY_SOCKET changes nothing", unreachable_socket_changes_nothing)]))
