"""Helpers for tools/bench/cluster (a benchmark, not a test): callsignd processes stopped by their
own pid, a minimal keep-alive HTTP/1.1 client whose replies can be timed next to a WebSocket,
/metrics samples, CPU ticks from /proc, and percentiles."""
import json
import math
import os
import select
import signal
import socket
import subprocess
import time


class Node:
    """One callsignd on 127.0.0.1:0 with --port-file, its log in its directory."""

    def __init__(self, callsignd, name, directory, config_text, io_threads=2):
        self.name, self.directory = name, directory
        self.data_dir = os.path.join(directory, "data")
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        config = os.path.join(directory, "callsign.toml")
        with open(config, "w") as f:
            f.write(config_text)
        port_file = os.path.join(directory, "port")
        self.log_path = os.path.join(directory, "callsignd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([callsignd, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
                                      "--port-file", port_file, "--config", config,
                                      "--io-threads", str(io_threads)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.time() + 60
        while time.time() < deadline:
            if os.path.exists(port_file) and open(port_file).read().strip():
                self.port = int(open(port_file).read().strip())
                return
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s: %s" % (name, self.proc.returncode, self.log_tail()))
            time.sleep(0.05)
        problem = self.stop()  # not left running behind the error
        raise RuntimeError("%s wrote no port file within 60 s %s" % (name, problem))

    def log_tail(self, lines=5):
        with open(self.log_path) as f:
            return "".join(f.readlines()[-lines:])

    def stop(self):
        """SIGTERM to this pid; returns '' on exit status 0, else the problem (once: a second
        call returns '')."""
        if self.log.closed:
            return ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "%s did not stop within 30 s of SIGTERM" % self.name
        self.log.close()
        code = self.proc.returncode
        return "" if code == 0 else "%s exited %s: %s" % (self.name, code, self.log_tail())

    def quiet_metrics(self, key_filter):
        """/metrics once the samples key_filter picks stop changing (requests wrk left in flight
        have finished)."""
        last = None
        for _ in range(50):
            m = self.metrics()
            now = sum(v for k, v in m.items() if key_filter(k))
            if now == last:
                return m
            last = now
            time.sleep(0.1)
        return m

    def metrics(self):
        """{'name{labels}': value} from GET /metrics."""
        conn = Http(self.port)
        status, _, body = conn.request("GET", "/metrics")
        conn.close()
        if status != 200:
            raise RuntimeError("%s /metrics answered %d" % (self.name, status))
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out


class Http:
    """One keep-alive HTTP/1.1 connection; replies must carry Content-Length (callsignd's do)."""

    def __init__(self, port, timeout=10):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, method, path, body=None, headers=None):
        payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % self.port,
                 "Content-Length: %d" % len(payload)]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)

    def try_parse(self):
        """(status, headers, body) when a whole reply is buffered, else None."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(self.buf) < end + 4 + n:
            return None
        body = self.buf[end + 4:end + 4 + n]
        self.buf = self.buf[end + 4 + n:]
        return int(head[0].split()[1]), headers, body

    def read_some(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection to port %d closed" % self.port)
        self.buf += chunk

    def receive(self):
        while True:
            reply = self.try_parse()
            if reply is not None:
                return reply
            self.read_some()

    def request(self, method, path, body=None, headers=None):
        self.send(method, path, body, headers)
        return self.receive()

    def close(self):
        self.sock.close()


def bearer(token):
    return {"Authorization": "Bearer " + token}


def readable(socks, timeout):
    return select.select(socks, [], [], timeout)[0]


def cpu_ticks(*pids):
    """User + system clock ticks the processes have used so far (all threads)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


TICK = os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0
