#!/usr/bin/env python3
"""deploy/compose.yaml (issue 20) against what ./tools/cluster starts (tools/cluster read as
source, never run; tools/cluster_topology.py read and imported): the same node names, one primary with the
same number of replicas, the same Sentinels (count, quorum, timings), the same Redis settings and
ACL user, the same [shared_state] keys and values in each node's config, and ports that agree
between the Dockerfile, the node configs, Redis, the Sentinels and nginx. Docker cannot run here,
so this is what keeps the example in step. nginx -t checks its config, and each node config,
pointed at a real local Redis + Sentinel topology, serves /readyz from its secrets."""
import ast
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import tomllib
import types

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Server, check, parse_args, run_cases  # noqa: E402

ARGS, REST = parse_args()
SOURCE = REST[REST.index("--source-dir") + 1]
DEPLOY = os.path.join(SOURCE, "deploy")
sys.path.insert(0, os.path.join(SOURCE, "tools"))
import cluster_topology  # noqa: E402

with open(os.path.join(DEPLOY, "compose.yaml")) as f:
    COMPOSE = yaml.safe_load(f)
SERVICES = COMPOSE["services"]


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def tools_cluster():
    """NODES and the Topology(...) keywords of tools/cluster's main()."""
    tree = ast.parse(read(SOURCE, "tools", "cluster"))
    nodes = next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "NODES" for t in n.targets))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "Topology")
    keywords = {k.arg: k.value for k in call.keywords}
    return nodes, keywords


def topology_strings():
    """The literal strings of cluster_topology.Topology.__init__: the Sentinel lines and the ACL rule."""
    tree = ast.parse(inspect.getsource(cluster_topology))
    init = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__init__"
                and "sentinel monitor" in ast.unparse(n))
    constants = [n.value for n in ast.walk(init) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    sentinel = [c for c in constants if c.startswith("sentinel ") and "auth-pass" not in c]
    acl = next(c for c in constants if c.startswith("user %s on >%s "))
    auth_pass = next(c for c in constants if c.startswith("sentinel auth-pass"))
    return sentinel, acl[len("user %s on >%s "):], auth_pass


def command_of(name):
    return SERVICES[name].get("command") or []


def redis_roles():
    roles = {}
    for name, service in SERVICES.items():
        cmd = command_of(name)
        if cmd[:1] == ["/deploy/start-redis.sh"]:
            roles[name] = cmd[1:]
    return roles


def node_port():
    dockerfile = read(SOURCE, "Dockerfile")
    entry = re.search(r'^ENTRYPOINT \[.*"--listen", "0\.0\.0\.0:(\d+)"\]', dockerfile, re.M)
    check(entry, "the Dockerfile's ENTRYPOINT has no --listen 0.0.0.0:PORT")
    check(re.search(r"^EXPOSE %s$" % entry.group(1), dockerfile, re.M), "the Dockerfile does not EXPOSE its port")
    return int(entry.group(1))


def same_topology():
    nodes, keywords = tools_cluster()
    node_services = sorted(n for n, s in SERVICES.items() if s.get("image") == "callsign:local")
    check(node_services == sorted(nodes), "nodes %s, tools/cluster starts %s" % (node_services, nodes))
    roles = redis_roles()
    primaries = [n for n, r in roles.items() if r[0] == "primary"]
    replicas = [n for n, r in roles.items() if r[0] == "replica"]
    sentinels = [n for n, r in roles.items() if r[0] == "sentinel"]
    want_replicas = ast.literal_eval(keywords["replicas"])
    want_sentinels = inspect.signature(cluster_topology.Topology).parameters["sentinels"].default
    if "sentinels" in keywords:
        want_sentinels = ast.literal_eval(keywords["sentinels"])
    check(len(primaries) == 1, "primaries: %s" % primaries)
    check(len(replicas) == want_replicas, "%d replicas, tools/cluster starts %d" % (len(replicas), want_replicas))
    check(len(sentinels) == want_sentinels, "%d sentinels, tools/cluster starts %d" % (len(sentinels), want_sentinels))
    for r in replicas:
        check(roles[r][1:] == primaries, "%s replicates %s, not the primary %s" % (r, roles[r][1:], primaries))
    for name in roles:
        check(SERVICES[name].get("hostname") == name, "%s must announce itself as %s" % (name, name))
    nginx = [n for n in SERVICES if "nginx" in " ".join(command_of(n))]
    check(len(nginx) == 1, "one nginx in front: %s" % nginx)
    # Every image comes from the repository's Dockerfile: its runtime stage or its cluster stage.
    dockerfile = read(SOURCE, "Dockerfile")
    for name, service in SERVICES.items():
        build = service.get("build") or {}
        check(os.path.realpath(os.path.join(DEPLOY, build.get("context", "?"))) == os.path.realpath(SOURCE),
              "%s is not built from the repository" % name)
        target = build.get("target")
        check(re.search(r"^FROM \S+ AS %s$" % re.escape(str(target)), dockerfile, re.M),
              "%s builds Dockerfile stage %r, which does not exist" % (name, target))
    check("/opt/callsign/tools/setup cluster" in dockerfile, "the cluster stage does not install the cluster packages")
    cluster_packages = [l.split()[1] for l in read(SOURCE, "tools", "packages.txt").splitlines()
                        if l.startswith("cluster ")]
    for package in ("redis-server", "redis-sentinel", "nginx-light"):
        check(package in cluster_packages, "tools/packages.txt lacks 'cluster %s'" % package)
    STATE.update(nodes=nodes, primary=primaries[0], replicas=replicas, sentinels=sorted(sentinels), keywords=keywords)


def same_redis_settings():
    conf = read(DEPLOY, "redis", "redis.conf").splitlines()
    for setting in cluster_topology.REDIS_SETTINGS:
        check(setting in conf, "deploy/redis/redis.conf lacks %r (tools/cluster_topology.py REDIS_SETTINGS)" % setting)
    port = int(next(l.split()[1] for l in conf if l.startswith("port ")))
    script = read(DEPLOY, "redis", "start-redis.sh")
    check(re.search(r"replicaof \$\{2:\?primary host\} %d\b" % port, script), "replicas do not follow port %d" % port)
    sentinel_lines, acl, auth_pass = topology_strings()
    _, keywords = tools_cluster()
    user = ast.literal_eval(keywords["user"])
    check("password" in keywords, "tools/cluster no longer gives Redis a password: update deploy/ too")
    acl_line = 'echo "user %s on >$password %s"' % (user, acl)
    check(acl_line in script, "the ACL user differs from tools/cluster's: want %s" % acl_line)
    for line in ("requirepass $password", "masterauth $password",
                 auth_pass % (cluster_topology.MASTER_NAME, "$password")):
        check(line in script, "start-redis.sh lacks %r" % line)
    sentinel_conf = read(DEPLOY, "redis", "sentinel.conf").splitlines()
    sentinel_port = int(next(l.split()[1] for l in sentinel_conf if l.startswith("port ")))
    for fmt in sentinel_lines:
        # tools/cluster's primary is 127.0.0.1:<port>; here it is the primary service.
        want = fmt.replace("127.0.0.1 %d", "%s %d" % (STATE["primary"], port)) % cluster_topology.MASTER_NAME
        check(want in sentinel_conf, "deploy/redis/sentinel.conf lacks %r" % want)
    STATE.update(redis_port=port, sentinel_port=sentinel_port, user=user)


def same_node_configs():
    fake = types.SimpleNamespace(user=STATE["user"], sentinel_addresses=lambda: ["S"])
    for name in STATE["nodes"]:
        service = SERVICES[name]
        mounts = [v.split(":") for v in service.get("volumes", [])]
        config_src = next(m[0] for m in mounts if m[1] == "/etc/callsign/callsign.toml")
        check(service.get("command") == ["--config", "/etc/callsign/callsign.toml"], "%s's command" % name)
        ours = tomllib.loads(read(DEPLOY, config_src))["shared_state"]
        theirs = tomllib.loads(cluster_topology.Topology.shared_state_toml(fake, name, password_file="P"))["shared_state"]
        check(sorted(ours) == sorted(theirs), "%s [shared_state] keys %s, tools/cluster writes %s" %
              (name, sorted(ours), sorted(theirs)))
        for key, value in theirs.items():
            if key == "sentinels":
                want = ["%s:%d" % (s, STATE["sentinel_port"]) for s in STATE["sentinels"]]
                check(sorted(ours[key]) == want, "%s sentinels %s, want %s" % (name, ours[key], want))
            elif key == "password_file":
                check(ours[key] == "credential:redis.password", "%s password_file %r" % (name, ours[key]))
            else:
                check(ours[key] == value, "%s shared_state.%s = %r, tools/cluster writes %r" % (name, key, ours[key], value))
        check(service.get("environment", {}).get("CREDENTIALS_DIRECTORY") == "/run/secrets",
              "%s does not name the compose secrets as $CREDENTIALS_DIRECTORY" % name)
        check({"master.key", "redis.password"} <= set(service.get("secrets", [])), "%s lacks its secrets" % name)
        for secret in service["secrets"]:
            check(secret in COMPOSE.get("secrets", {}), "secret %s is not defined" % secret)


def ports_agree():
    port = node_port()
    conf = read(DEPLOY, "nginx.conf")
    upstream = re.findall(r"^\s*server (\S+?)(?: |;)", conf.split("upstream callsign {")[1].split("}")[0], re.M)
    want = ["%s:%d" % (n, port) for n in STATE["nodes"]]
    check(sorted(upstream) == sorted(want), "nginx upstream %s, want %s" % (upstream, want))
    listen = int(re.search(r"^\s*listen (\d+);", conf, re.M).group(1))
    nginx = next(n for n in SERVICES if "nginx" in " ".join(command_of(n)))
    published = [p.split(":") for p in SERVICES[nginx].get("ports", [])]
    check(published and all(int(p[-1]) == listen for p in published), "nginx publishes %s, listens %d" % (published, listen))
    if not shutil.which("nginx"):
        print("     SKIPPED nginx -t: nginx is not installed (tools/setup test installs nginx-light)", flush=True)
        return
    tmp = tempfile.mkdtemp(prefix="callsign-deploy-")
    try:
        local = conf
        for n in STATE["nodes"]:
            local = local.replace("server %s:" % n, "server 127.0.0.1:")
        path = os.path.join(tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(local)
        out = subprocess.run(["nginx", "-t", "-c", path, "-e", os.path.join(tmp, "error.log")],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0, "nginx -t: %s" % out.stderr[-800:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def node_configs_serve():
    """Each node config, its Sentinel addresses pointed at a real local topology like
    tools/cluster's (the names resolve only inside compose), serves /readyz from secrets in
    $CREDENTIALS_DIRECTORY as compose hands them over, then exits 0 on SIGTERM."""
    tmp = tempfile.mkdtemp(prefix="callsign-deploy-node-")
    topology = None
    try:
        creds = os.path.join(tmp, "secrets")
        os.makedirs(creds, mode=0o700)
        password = os.urandom(16).hex()
        for name, content in (("master.key", "1 %s\n" % os.urandom(32).hex()), ("jwt-hs256.key", os.urandom(32).hex()),
                              ("redis.password", password + "\n")):
            with open(os.path.join(creds, name), "w") as f:
                f.write(content)
            os.chmod(os.path.join(creds, name), 0o600)
        topology = cluster_topology.Topology(os.path.join(tmp, "redis"), replicas=len(STATE["replicas"]),
                                             sentinels=len(STATE["sentinels"]), password=password, user=STATE["user"])
        for name in STATE["nodes"]:
            text = read(DEPLOY, "nodes", name + ".toml")
            for sentinel, local in zip(STATE["sentinels"], topology.sentinel_addresses()):
                text = text.replace('"%s:%d"' % (sentinel, STATE["sentinel_port"]), '"%s"' % local)
            os.environ["CREDENTIALS_DIRECTORY"] = creds  # inherited by this server only
            try:
                server = Server(ARGS.callsignd, config_text=text)
            finally:
                del os.environ["CREDENTIALS_DIRECTORY"]
            try:
                status, _, body = server.request("GET", "/readyz")
                check(status == 200, "%s /readyz: %d %r" % (name, status, body[:200]))
                starting = server.log_record("starting") or {}
                check(starting.get("master_key") == "credential", "%s did not read the master.key secret" % name)
            finally:
                server.cleanup()
    finally:
        if topology is not None:
            problems = topology.stop()
            check(not problems, "; ".join(problems))
        shutil.rmtree(tmp, ignore_errors=True)


def start_redis_script_runs():
    """deploy/redis/start-redis.sh itself, outside a container (its paths and a port overridden by
    the CALLSIGN_* variables): a primary and a replica start from the generated configs, replicate,
    and the ACL user callsignd may write its own keys (cs:*) and nothing else."""
    tmp = tempfile.mkdtemp(prefix="callsign-deploy-redis-")
    procs, ports, password = [], {}, None
    try:
        secrets = os.path.join(tmp, "secrets")
        os.makedirs(secrets, mode=0o700)
        password = os.urandom(16).hex()
        with open(os.path.join(secrets, "redis.password"), "w") as f:
            f.write(password + "\n")
        for role in ("primary", "replica"):
            data = os.path.join(tmp, role)
            os.makedirs(data)
            ports[role] = cluster_topology.free_port()
            extra = "--port %d --bind 127.0.0.1 --dir %s" % (ports[role], data)
            if role == "replica":
                extra += " --replicaof 127.0.0.1 %d" % ports["primary"]
            env = dict(os.environ, CALLSIGN_SECRETS=secrets, CALLSIGN_DEPLOY=os.path.join(DEPLOY, "redis"),
                       CALLSIGN_DATA=data, CALLSIGN_REDIS_ARGS=extra)
            args = [os.path.join(DEPLOY, "redis", "start-redis.sh"), role] + (["redis-0"] if role == "replica" else [])
            procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True, preexec_fn=cluster_topology._die_with_parent))
            cluster_topology.wait_until(
                lambda p=ports[role]: cluster_topology.command(p, "PING", password=password, timeout=1) == "PONG",
                20, "start-redis.sh %s answering PING" % role)
        cluster_topology.wait_until(
            lambda: "master_link_status:up" in cluster_topology.command(ports["replica"], "INFO", "replication",
                                                                         password=password),
            20, "the replica replicating")
        primary = ports["primary"]
        # The link being up on the replica is not enough for min-replicas-to-write: the primary
        # counts a replica as good from its first acknowledgement (sent once a second), and
        # refuses writes with NOREPLICAS until then.
        cluster_topology.wait_until(
            lambda: "min_slaves_good_slaves:0" not in cluster_topology.command(primary, "INFO", "replication",
                                                                                password=password).split(),
            20, "the primary counting the replica as good")
        check(cluster_topology.command(primary, "CONFIG", "GET", "appendonly", password=password) == ["appendonly", "yes"],
              "appendonly is not on")
        check(cluster_topology.command(primary, "SET", "cs:deploy-test", "1", username=STATE["user"],
                                       password=password) == "OK", "the ACL user cannot write cs:*")
        for refused in (("SET", "other", "1"), ("FLUSHALL",)):
            try:
                cluster_topology.command(primary, *refused, username=STATE["user"], password=password)
                check(False, "the ACL user may %s" % " ".join(refused))
            except cluster_topology.RedisError as e:
                check("NOPERM" in str(e), "%s: %s" % (refused, e))
    finally:
        # Redis ignores SIGTERM while it writes its first AOF (a replica does right after its
        # sync): wait for that to end first.
        for port in ports.values():
            try:
                cluster_topology.wait_until(lambda p=port: {"aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0"} <= set(
                    cluster_topology.command(p, "INFO", "persistence", password=password).split()), 20,
                    "the AOF rewrite ending")
            except (TimeoutError, OSError, cluster_topology.RedisError):
                pass  # stopped below all the same; a process that stays is reported by its exit
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=20) for proc in reversed(procs)]
        shutil.rmtree(tmp, ignore_errors=True)
    check(codes == [0] * len(procs), "start-redis.sh's Redis exited %s on SIGTERM" % codes)


STATE = {}
sys.exit(run_cases([("the same nodes, Redis primary and replicas, Sentinels, one nginx, all from the Dockerfile",
                     same_topology),
                    ("the same Redis settings, ACL user and Sentinel settings", same_redis_settings),
                    ("the same [shared_state] keys and values in each node config", same_node_configs),
                    ("ports agree: Dockerfile, nginx upstream and listen, nginx -t", ports_agree),
                    ("each node config serves /readyz on a local Sentinel topology", node_configs_serve),
                    ("start-redis.sh runs a primary and a replica; the ACL user is confined", start_redis_script_runs)]))
