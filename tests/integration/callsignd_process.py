"""One real callsignd process on port 0 in a temp data dir (harness.py re-exports Server): its
log and stderr collected, stopped with SIGTERM and required to exit 0 (sanitizer leak checks)."""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


# What a sanitizer prints when it reports (ASan, LSan, UBSan): a server that printed one did not
# exit cleanly, whatever its status.
SANITIZER_REPORT = re.compile(r"ERROR: \w*Sanitizer|SUMMARY: \w*Sanitizer|runtime error:")


class Server:
    """One callsignd process; stdout (JSON-lines log) is collected in `lines`.

    End every server with cleanup(): it stops a running server with SIGTERM and raises
    AssertionError unless it exited 0 without a sanitizer report (so LeakSanitizer's exit check
    counts), or, after a planned stop(SIGKILL), with -9. Called while an exception propagates (a
    failing test's `finally`), it kills at once and checks nothing, so the first error stays the
    one reported and no process is left behind."""

    started = []  # every Server, so run_cases can name a crash behind a failure

    def __init__(self, binary, config_text="", extra_args=(), data_dir=None, tls=False, plaintext=True, wrapper=()):
        """tls: the config enables [tls]; its port is read from --tls-port-file into tls_port.
        plaintext=False: the config turns the plain listener off (port stays None).
        wrapper: a command that execs callsignd in its own process (prlimit …), so the pid is
        callsignd's."""
        self.crash_reported = False
        self.planned_kill = False  # stop(SIGKILL) was asked for: -9 is then the clean exit
        self.stop_timed_out = False
        self.checked = False  # cleanup() ran: its exit was checked, or the case had failed
        self.tmp = tempfile.mkdtemp(prefix="callsign-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port_file = os.path.join(self.tmp, "port")
        self.tls_port_file = os.path.join(self.tmp, "tls-port")
        config_path = os.path.join(self.tmp, "callsign.toml")
        with open(config_path, "w") as f:
            f.write(config_text)
        cmd = [*wrapper, binary, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
               "--port-file", self.port_file, "--config", config_path, *extra_args]
        if tls:
            cmd += ["--tls-port-file", self.tls_port_file]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        Server.started.append(self)
        self.lines = []
        self.stderr = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()
        try:
            self.port = self._wait_for_port(self.port_file) if plaintext else None
            self.tls_port = self._wait_for_port(self.tls_port_file) if tls else None
        except Exception:
            self.cleanup()  # an exception propagates: kills, checks nothing
            raise

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _wait_for_port(self, port_file):
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            if self.proc.poll() is not None:
                raise RuntimeError("callsignd exited early: %s\n%s" % (self.proc.returncode,
                                                                       "\n".join(self.lines + self.stderr)))
            time.sleep(0.05)
        raise RuntimeError("callsignd did not write its port file")

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            data = res.read()
            return res.status, dict((k.lower(), v) for k, v in res.getheaders()), data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, hdrs, (json.loads(data) if data else None)

    def raw(self, payload, read_timeout=10):
        """Sends raw bytes, returns everything the server sends before closing."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as s:
            s.sendall(payload)
            chunks = []
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)

    def log_records(self):
        return [json.loads(line) for line in self.lines if line.strip()]

    def log_record(self, msg, timeout=10):
        """The first log record with this `msg`, waiting for the reader thread to take it from
        the pipe: a record written before the port file may still be in flight when the test asks."""
        deadline = time.time() + timeout
        while True:
            found = next((r for r in self.log_records() if r.get("msg") == msg), None)
            if found is not None or time.time() > deadline:
                return found
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends `sig` (if still running) and returns the exit status. A server that outlives
        `timeout` is killed; the status is then -9 and exit_problem() says why."""
        if self.proc.poll() is None:
            if sig == signal.SIGKILL:
                self.planned_kill = True
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop_timed_out = True
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        self._err_reader.join(timeout=5)
        return code

    def name(self):
        return "callsignd (pid %d, port %s, data dir %s)" % (self.proc.pid, getattr(self, "port", "?"),
                                                             getattr(self, "data_dir", "?"))

    def exit_problem(self):
        """Why this exited server did not end cleanly, or "" when it did: status 0 (-9 after a
        planned SIGKILL) and no sanitizer report on stderr."""
        code = self.proc.returncode
        expected = -signal.SIGKILL if self.planned_kill else 0
        reports = [l.strip() for l in self.stderr if SANITIZER_REPORT.search(l)]
        if code == expected and not reports and not self.stop_timed_out:
            return ""
        why = "did not exit within its stop timeout (killed)" if self.stop_timed_out else \
            "exited with status %s, expected %d" % (code, expected)
        tail = reports[:4] or [l.strip() for l in self.stderr[-4:]]
        return "%s %s%s" % (self.name(), why, (": " + " | ".join(tail)) if tail else "")

    def crash_report(self):
        """The sanitizer's ERROR/SUMMARY lines if callsignd died of one, else ""."""
        if not hasattr(self, "stderr") or self.proc.poll() is None:
            return ""
        time.sleep(0.2)  # let the stderr reader catch up
        lines = [l.strip() for l in self.stderr if "ERROR: " in l or "SUMMARY: " in l or "runtime error:" in l]
        if not lines:
            return ""
        return "callsignd (port %s) exited with %s: %s" % (self.port if hasattr(self, "port") else "?",
                                                          self.proc.returncode, " | ".join(lines[:4]))

    def cleanup(self):
        """SIGTERM and require a clean exit (see the class comment); while an exception
        propagates, SIGKILL and check nothing. Removes the temp dir either way."""
        failing = sys.exc_info()[0] is not None
        if self.checked:  # a second call (a suite's finally after run_cases stopped it)
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self.checked = True
        try:
            if failing:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                return
            self.stop()
            problem = self.exit_problem()
            if problem:
                self.crash_reported = True  # named here already
                raise AssertionError(problem)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@atexit.register
def _kill_leftover_servers():
    """A suite that died before its cleanup leaves no callsignd behind."""
    for server in Server.started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
