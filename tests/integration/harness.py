"""Starts the real callsignd on port 0 in a temp data dir, for integration tests."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import http.client


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callsignd", required=True)
    parser.add_argument("--callsign", required=True)
    args, rest = parser.parse_known_args()
    return args, rest


class Server:
    """One callsignd process; stdout (JSON-lines log) is collected in `lines`."""

    def __init__(self, binary, config_text="", extra_args=(), data_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="callsign-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port_file = os.path.join(self.tmp, "port")
        config_path = os.path.join(self.tmp, "callsign.toml")
        with open(config_path, "w") as f:
            f.write(config_text)
        cmd = [binary, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
               "--port-file", self.port_file, "--config", config_path, *extra_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.stderr = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()
        self.port = self._wait_for_port()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _wait_for_port(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
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

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self._err_reader.join(timeout=5)
        return code

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run_cases(cases):
    """Runs named test functions; prints a summary line; returns the exit code."""
    failed = 0
    for name, fn in cases:
        started = time.time()
        try:
            fn()
            print("PASS %s (%.1fs)" % (name, time.time() - started), flush=True)
        except Exception as exc:  # noqa: BLE001 - report every failure
            failed += 1
            print("FAIL %s: %s" % (name, exc), flush=True)
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0
