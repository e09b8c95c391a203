"""Integration (issue 19, docs/rules.md "Several nodes"): rate.login_failures.ip and .username
on two callsignd nodes sharing one Redis (a replica and a Sentinel). Failures reported through
node A's POST /v1/login/result decide node B's POST /v1/login/check and its gate, at exactly the
count the rule names, with one Redis round trip per check. With Redis stopped, a rule set that
reads no count keeps answering, and one that reads a count answers 503 problem+json (never a
count of 0)."""
import hashlib
import json
import sys

from cluster_harness import Cluster, wait_for
from harness import bearer, check, check_problem, parse_args, run_cases

ARGS, _ = parse_args()
CONFIG = """
[login]
trusted_proxies = ["127.0.0.1"]
"""
RATE_RULES = '''[[rule]]
id = "log-ip-failures"
expression = "rate.login_failures.ip ge 1"
action = "log"

[[rule]]
id = "many-user-failures"
expression = "rate.login_failures.username ge 3"
action = "block"

[[rule]]
id = "many-ip-failures"
expression = "rate.login_failures.ip ge 3"
action = "challenge"

[[rate_limit]]
id = "failed-ip"
expression = "not login.success"
characteristics = ["ip.src"]
limit = 50
period = 600

[[rate_limit]]
id = "failed-user"
expression = "not login.success"
characteristics = ["login.username"]
limit = 50
period = 600
'''
NET_RULES = '''[[rule]]
id = "net-block"
expression = "ip.src in {198.51.100.0/24}"
action = "block"
'''
FAILING_IP = "203.0.113.61"
OTHER_IP = "203.0.113.62"
USER = "carol@example.com"
PASSWORD = "correct-horse-7b1c"  # must reach no log line on either node


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def put_rules(cluster, node, text):
    status, _, raw = node.server.request("PUT", "/v1/admin/rules", text,
                                         bearer(cluster.admin, {"Content-Type": "application/toml"}))
    check(status == 200, "PUT /v1/admin/rules on %s: %d %r" % (node.name, status, raw))


def serving(cluster, nodes, text):
    def all_serve():
        for node in nodes:
            status, _, body = node.json("GET", "/v1/admin/rules", token=cluster.admin)
            if status != 200 or body["sha256"] != sha(text):
                return False
        return True
    wait_for(all_serve, 5, "the rule file serving on every node")


def login_check(cluster, node, ip, username=None):
    body = {"ip": ip}
    if username is not None:
        body["username"] = username
        body["password"] = PASSWORD
    return node.server.request("POST", "/v1/login/check", json.dumps(body),
                               bearer(cluster.token("service", "login-frontend"), {"Content-Type": "application/json"}))


def decision(cluster, node, ip, username=None):
    status, _, raw = login_check(cluster, node, ip, username)
    check(status == 200, "login/check on %s: %d %r" % (node.name, status, raw))
    d = json.loads(raw)["decision"]
    return d["action"], d["rule_id"]


def gate(node, ip):
    return node.server.request("GET", "/v1/login/gate", headers={"X-Forwarded-For": ip})


def fail(cluster, node, ip, username):
    status, _, body = node.json("POST", "/v1/login/result", {"ip": ip, "username": username, "success": False},
                                cluster.token("service", "login-frontend"))
    check(status == 200 and body["blocked"] is False, "failure on %s: %d %r" % (node.name, status, body))


def count_reads(node):
    return node.metric("callsign_redis_round_trips_total", '{operation="login_counts"}')


def test_failures_on_node_a_decide_node_b():
    cluster = Cluster(ARGS, nodes=2, replicas=1, sentinels=1, config=CONFIG)
    try:
        a, b = cluster.nodes
        put_rules(cluster, a, RATE_RULES)
        serving(cluster, cluster.nodes, RATE_RULES)
        check(decision(cluster, b, FAILING_IP, USER) == ("allow", None), "no failures yet: allowed on node B")
        for _ in range(2):
            fail(cluster, a, FAILING_IP, USER)
        check(decision(cluster, b, FAILING_IP, USER) == ("allow", None), "two failures are under 3 on node B")
        fail(cluster, a, FAILING_IP, USER)

        # The third failure, counted in Redis by node A, is read by node B: exact counts.
        before = count_reads(b)
        check(decision(cluster, b, FAILING_IP) == ("challenge", "many-ip-failures"),
              "three failures from the address challenge on node B")
        check(count_reads(b) - before == 1, "one round trip for the count: %r" % (count_reads(b) - before))
        before = count_reads(b)
        check(decision(cluster, b, OTHER_IP, USER) == ("block", "many-user-failures"),
              "three failures of the username block it from another address on node B")
        check(count_reads(b) - before == 1, "one round trip for both counts: %r" % (count_reads(b) - before))
        check(decision(cluster, b, OTHER_IP, "dave@example.com") == ("allow", None), "another user, another address")

        status, headers, _ = gate(b, FAILING_IP)
        check(status == 401 and headers.get("x-callsign-action") == "challenge",
              "node B's gate challenges the address: %d %r" % (status, headers))
        status, _, _ = gate(b, OTHER_IP)
        check(status == 204, "node B's gate lets another address through: %d" % status)
        status, headers, _ = gate(a, FAILING_IP)
        check(status == 401, "and so does node A's own gate: %d" % status)

        # The continuation logged the `log` rule, and no node logged the username or password.
        status, _, raw = login_check(cluster, b, FAILING_IP, USER)
        check(status == 200 and json.loads(raw)["logged_rules"] == ["log-ip-failures"], "a log rule: %r" % raw)
        wait_for(lambda: any('"log-ip-failures"' in line for line in b.server.lines), 5, "node B logging the rule")
        for node in cluster.nodes:
            for line in node.server.lines + node.server.stderr:
                check("carol" not in line and PASSWORD not in line, "%s logged a credential: %s" % (node.name, line))
    finally:
        cluster.cleanup()


def test_with_redis_stopped_only_a_rule_set_that_reads_a_count_answers_503():
    cluster = Cluster(ARGS, nodes=1, replicas=1, sentinels=1, config=CONFIG)
    try:
        (a,) = cluster.nodes

        def redis_away():
            for server in cluster.topology.servers:
                check(server.stop() == "", "%s stops cleanly" % server.name)
            wait_for(lambda: a.json("GET", "/readyz")[0] == 503, 10, "node A unready")

        def redis_back():
            for server in cluster.topology.servers:
                server.restart()
            wait_for(lambda: a.json("GET", "/readyz")[0] == 200, 20, "node A ready again", interval=0.1)

        # No count read: the check and the gate answer from the node as before.
        put_rules(cluster, a, NET_RULES)
        redis_away()
        check(decision(cluster, a, "198.51.100.4") == ("block", "net-block"), "the rules decide without Redis")
        check(gate(a, "198.51.100.4")[0] == 403, "the gate too")
        check(count_reads(a) == 0, "no count was asked for")
        redis_back()

        # A count read: 503 problem+json with Retry-After, never a count of 0 read as "allow".
        put_rules(cluster, a, RATE_RULES)
        redis_away()
        for username in (None, USER):
            status, headers, raw = login_check(cluster, a, FAILING_IP, username)
            check_problem(status, headers, raw, 503)
            check(headers.get("retry-after") is not None, "a Retry-After: %r" % headers)
            check(b"carol" not in raw, "no username in the problem")
        status, headers, raw = gate(a, FAILING_IP)
        check_problem(status, headers, raw, 503)
        redis_back()
        check(decision(cluster, a, FAILING_IP, USER) == ("allow", None), "answers again once Redis is back")
    finally:
        cluster.cleanup()


CASES = [
    ("failures_on_node_a_decide_node_b", test_failures_on_node_a_decide_node_b),
    ("with_redis_stopped_only_a_rule_set_that_reads_a_count_answers_503",
     test_with_redis_stopped_only_a_rule_set_that_reads_a_count_answers_503),
]

if __name__ == "__main__":
    sys.exit(run_cases(CASES))
