"""Several callsignd nodes on one Redis/Sentinel topology (tools/cluster_topology.py), all on
loopback: node A starts first and makes the master key ring and the development JWT key; the
other nodes start from copies of both, as docs/cluster.md says every node must. Each process is
stopped by its own pid; cleanup() requires every exit status to be clean."""
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import cluster_topology  # noqa: E402

from harness import Server, bearer, check, hotp, json_headers, mint_token  # noqa: E402

NODE_NAMES = ["node-a", "node-b", "node-c", "node-d", "node-e"]
SHARED_FILES = ("master.key", "jwt-hs256.key")


class ClusterNode:
    def __init__(self, cluster, name, server):
        self.cluster, self.name, self.server = cluster, name, server
        self.data_dir = server.data_dir

    def json(self, method, path, body=None, token=None):
        payload = body if body is None or isinstance(body, (bytes, str)) else json.dumps(body)
        return self.server.json(method, path, payload, json_headers(token) if token else {})

    def metric(self, name, labels=""):
        """The value of one /metrics sample (0 when absent)."""
        _, _, text = self.server.request("GET", "/metrics")
        want = name + labels + " "
        for line in text.decode().splitlines():
            if line.startswith(want):
                return float(line.split()[-1])
        return 0.0


class Cluster:
    def __init__(self, args, nodes=3, config="", replicas=2, sentinels=3, wait_replicas=1, topology=None,
                 node_configs=None):
        self.args = args
        self.root = tempfile.mkdtemp(prefix="callsign-cluster-")
        self.nodes = []
        self.config = config
        self.node_configs = node_configs or {}  # name -> extra config text for that node only
        self.wait_replicas = wait_replicas
        self._tokens = {}
        self.topology = topology or cluster_topology.Topology(os.path.join(self.root, "redis"), replicas=replicas,
                                                              sentinels=sentinels)
        try:
            for i in range(nodes):
                self.start_node(NODE_NAMES[i])
        except Exception:
            self.cleanup(check_exits=False)
            raise

    def node_config(self, name):
        return (self.topology.shared_state_toml(name, wait_replicas=self.wait_replicas, extra=self.node_configs.get(name, ""))
                + "\n" + self.config)

    def start_node(self, name, data_dir=None, copy_from=None):
        """Starts a node; every node after the first gets the first node's key ring and JWT key."""
        if data_dir is None:
            data_dir = os.path.join(self.root, name)
        source = copy_from or (self.nodes[0].data_dir if self.nodes else None)
        if source is not None and not os.path.exists(os.path.join(data_dir, "master.key")):
            os.makedirs(data_dir, mode=0o700, exist_ok=True)
            for f in SHARED_FILES:
                shutil.copy2(os.path.join(source, f), os.path.join(data_dir, f))
        node = ClusterNode(self, name, Server(self.args.callsignd, self.node_config(name), data_dir=data_dir))
        self.nodes.append(node)
        return node

    def token(self, role, sub):
        if (role, sub) not in self._tokens:
            self._tokens[(role, sub)] = mint_token(self.args.callsign, self.nodes[0].data_dir, role, sub)
        return self._tokens[(role, sub)]

    @property
    def admin(self):
        return self.token("admin", "ops-1")

    def put_user(self, node, user_id, phone_support=True):
        status, _, body = node.json("PUT", "/v1/users/" + user_id,
                                    {"email": user_id + "@example.com", "phone_support": phone_support}, self.admin)
        check(status in (200, 201), "PUT user %s on %s: %d %r" % (user_id, node.name, status, body))
        return body

    def cleanup(self, check_exits=True):
        problems = []
        for node in self.nodes:
            try:
                node.server.cleanup()
            except AssertionError as e:
                problems.append(str(e))
        problems += self.topology.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if check_exits and problems:
            raise AssertionError("unclean exits: %s" % "; ".join(problems))


def wait_for(predicate, timeout, what, interval=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("%s did not happen within %.1f s" % (what, timeout))


def burst_config(period):
    """Phone codes every `period` seconds and failure limits no burst reaches, so a test of
    concurrency is never throttled."""
    return ("[phone_token]\nperiod = %d\n\n[verify]\nuser_failures = 100000\nagent_failures = 100000\n"
            "ip_failures = 100000\n" % period)


def code_of(key, user, step):
    """The phone code of `user` at `step` under master key bytes `key` (harness.phone_token_at
    without re-reading master.key on every call of a burst)."""
    return hotp(hmac.new(key, b"callsign phone-token\x00" + user.encode(), hashlib.sha256).digest(), step)


def post_verify(port, token, user, code, headers=None):
    """POST /v1/verify on a fresh connection: (status, X-Request-Id, parsed body); status 0 and
    the error text when the connection failed. A dict given as `headers` receives the reply's
    headers (lower-case names)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("POST", "/v1/verify", json.dumps({"user": user, "code": code}),
                     {"Content-Type": "application/json", "Authorization": "Bearer " + token})
        res = conn.getresponse()
        raw = res.read()
        if headers is not None:
            headers.update({k.lower(): v for k, v in res.getheaders()})
        return res.status, res.getheader("x-request-id"), (json.loads(raw) if raw else None)
    except OSError as e:
        return 0, None, str(e)
    finally:
        conn.close()


def journal_entries(callsign, data_dir):
    """Every entry of a stopped node's journal, through `callsign audit export`."""
    out = subprocess.run([callsign, "audit", "export", "--data-dir", data_dir], capture_output=True, text=True,
                         timeout=120)
    check(out.returncode == 0, "audit export %s: %s" % (data_dir, out.stderr))
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
