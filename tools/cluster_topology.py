"""Redis (a primary and its replicas), three redis-sentinel processes and several callsignd nodes
on loopback, for ./tools/cluster and the cluster tests (docs/cluster.md). Each process runs on a
free port in its own directory and is stopped by its own pid; stop() requires exit status 0."""
import ctypes
import os
import signal
import socket
import subprocess
import time

MASTER_NAME = "callsign"

# What callsign expects of Redis (docs/cluster.md, "Redis settings"): every write in the AOF,
# fsynced each second, a primary that cannot reach a replica stops taking writes, and no key is
# ever evicted (callsignd refuses a primary whose maxmemory-policy allows it).
REDIS_SETTINGS = [
    "appendonly yes",
    "appendfsync everysec",
    "min-replicas-to-write 1",
    "min-replicas-max-lag 5",
    "maxmemory-policy noeviction",
    "repl-diskless-sync yes",
    "repl-diskless-sync-delay 0",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad RESP")


class RedisError(Exception):
    pass


def _die_with_parent():
    """In the child before exec: SIGKILL when the process that started it dies, so a test or
    script killed by a timeout leaves no Redis behind (PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def command(port, *args, password=None, username=None, timeout=5):
    """One command on a fresh connection (AUTH first when given); returns the decoded reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        reader = _Reader(s)
        if password is not None:
            s.sendall(_encode(["AUTH", username, password] if username else ["AUTH", password]))
            r = reader.reply()
            if isinstance(r, RedisError):
                raise r
        s.sendall(_encode(list(args)))
        r = reader.reply()
        if isinstance(r, RedisError):
            raise r
        return r


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if predicate():
                return
        except (OSError, RedisError, ConnectionError) as e:
            last = e
        time.sleep(0.05)
    raise TimeoutError("%s did not happen within %ss (%s)" % (what, timeout, last))


class Process:
    """redis-server or redis-sentinel on a free port in `directory`, started from a config file."""

    def __init__(self, binary, directory, lines, name, password=None):
        os.makedirs(directory, exist_ok=True)
        self.directory, self.name, self.password = directory, name, password
        self.port = free_port()
        self.config = os.path.join(directory, "redis.conf")
        with open(self.config, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsave \"\"\n" %
                    (self.port, directory, os.path.join(directory, "log")))
            f.write("\n".join(lines) + "\n")
        self.binary = binary
        self._spawn()

    def _spawn(self):
        # Its own session: a Ctrl-C meant for the script that started it does not stop it behind
        # the script's back; the script stops it by its pid.
        self.proc = subprocess.Popen([self.binary, self.config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        self.planned_kill = False
        wait_until(lambda: self.ping(), 10, "%s answering PING" % self.name)

    def restart(self):
        """Starts the process again on the same port, config and directory (AOF included)."""
        problem = self.stop()
        if problem:
            raise RuntimeError(problem)
        self._spawn()

    def ping(self):
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (self.name, self.log_tail()))
        return command(self.port, "PING", password=self.password, timeout=1) == "PONG"

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.directory, "log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill(self):
        self.planned_kill = True
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGTERM and exit status 0 (or the -9 of a planned kill); returns a problem or ''."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "%s did not stop on SIGTERM" % self.name
        code = self.proc.returncode
        if code == 0 or (self.planned_kill and code == -signal.SIGKILL):
            return ""
        return "%s exited %s" % (self.name, code)


class Topology:
    """A primary, `replicas` replicas and `sentinels` sentinels watching MASTER_NAME. With a
    password, `user` is an ACL user that callsignd logs in as (the default user keeps it too, for
    replication and the sentinels)."""

    def __init__(self, root, replicas=1, sentinels=3, password=None, user=None, extra=()):
        self.root, self.password, self.user = root, password, user
        auth = []
        if password:
            auth = ["requirepass %s" % password, "masterauth %s" % password]
            if user:
                # The commands callsignd sends, on the keys and channels it owns (docs/cluster.md).
                auth.append("user %s on >%s ~cs:* &cs:* +@read +@write +@scripting +@pubsub +@connection "
                            "+@transaction +info +role +wait -@dangerous +info +role" % (user, password))
        self.settings = REDIS_SETTINGS + auth + list(extra)
        self.servers = []
        self.sentinels = []
        try:
            primary = Process("redis-server", os.path.join(root, "redis-0"), self.settings, "redis-0", password)
            self.servers.append(primary)
            for i in range(replicas):
                self.servers.append(Process("redis-server", os.path.join(root, "redis-%d" % (i + 1)),
                                            self.settings + ["replicaof 127.0.0.1 %d" % primary.port],
                                            "redis-%d" % (i + 1), password))
            for replica in self.servers[1:]:
                wait_until(lambda r=replica: "master_link_status:up" in self.cmd(r, "INFO", "replication"),
                           20, "%s replicating" % replica.name)
            if replicas:
                # min-replicas-to-write counts a replica from its first acknowledgement (sent once
                # a second), not from its link: until then the primary answers writes NOREPLICAS.
                wait_until(lambda: "min_slaves_good_slaves:0" not in self.cmd(primary, "INFO", "replication").split(),
                           20, "redis-0 counting a replica as good")
            lines = ["sentinel monitor %s 127.0.0.1 %d 2" % (MASTER_NAME, primary.port),
                     "sentinel down-after-milliseconds %s 1000" % MASTER_NAME,
                     "sentinel failover-timeout %s 5000" % MASTER_NAME,
                     "sentinel parallel-syncs %s 1" % MASTER_NAME]
            if password:
                lines.append("sentinel auth-pass %s %s" % (MASTER_NAME, password))
            for i in range(sentinels):
                self.sentinels.append(Process("redis-sentinel", os.path.join(root, "sentinel-%d" % i), lines,
                                              "sentinel-%d" % i))
            for s in self.sentinels:
                wait_until(lambda s=s: int(self._sentinel_info(s).get("num-other-sentinels", 0)) >= sentinels - 1,
                           20, "%s seeing the other sentinels" % s.name)
        except Exception:
            self.stop()
            raise

    def cmd(self, server, *args):
        return command(server.port, *args, password=self.password)

    def ask(self, server, *args, within=5.0):
        """One command to a server Sentinel may be reconfiguring: after REPLICAOF, Sentinel ends
        the server's normal clients (CLIENT KILL TYPE normal), which can cut a command before its
        reply. Such a cut answers nothing, so ask again on a fresh connection until a reply or an
        error reply comes back, or `within` seconds pass."""
        deadline = time.time() + within
        while True:
            try:
                return self.cmd(server, *args)
            except ConnectionError:
                if time.time() >= deadline:
                    raise
                time.sleep(0.05)

    def _sentinel_info(self, sentinel):
        flat = command(sentinel.port, "SENTINEL", "MASTER", MASTER_NAME)
        return dict(zip(flat[0::2], flat[1::2]))

    def primary_port(self):
        """The primary's port as the sentinels report it."""
        addr = command(self.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        return int(addr[1])

    def server_on(self, port):
        return next(s for s in self.servers if s.port == port)

    def sentinel_addresses(self):
        return ["127.0.0.1:%d" % s.port for s in self.sentinels]

    def shared_state_toml(self, node_id, password_file=None, wait_replicas=1, extra="", wait_timeout_ms=1500):
        # wait_timeout_ms: the tests run several clusters on 2 shared cores, where a starved
        # replica can take longer than the default second to acknowledge (it stays below the
        # command timeout, 2 s, as the config requires).
        text = ('[shared_state]\nbackend = "redis"\nnode_id = "%s"\nsentinels = [%s]\nmaster_name = "%s"\n'
                'wait_replicas = %d\nwait_timeout_ms = %d\n' %
                (node_id, ", ".join('"%s"' % a for a in self.sentinel_addresses()), MASTER_NAME, wait_replicas,
                 wait_timeout_ms))
        if password_file:
            if self.user:
                text += 'username = "%s"\n' % self.user
            text += 'password_file = "%s"\n' % password_file
        return text + extra

    def stop(self):
        """Stops sentinels first (so no failover starts while servers stop), then servers;
        returns the problems found (empty when every process exited cleanly)."""
        problems = [s.stop() for s in self.sentinels] + [s.stop() for s in reversed(self.servers)]
        return [p for p in problems if p]
