"""The summary of tools/bench/cluster (a benchmark, not a test): every figure beside its reference
and the ratio, then the targets. Returns whether a target was missed."""
import os


def _rate(slices):
    return sum(s["requests"] for s in slices) / sum(s["seconds"] for s in slices)


def _n(slices):
    return max(1, sum(s["requests"] for s in slices))


def _us(cpu, slices):
    return cpu * 1e6 / max(1, sum(s["requests"] for s in slices))


def _dist(values, pct):
    if not values:
        return "no samples"
    return "p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms (n = %d)" % (
        pct(values, 50), pct(values, 90), pct(values, 99), max(values), len(values))


def _side_key(label):
    return {"embedded": "embedded", "redis w=1": "redis-w1", "redis w=0": "redis-w0"}[label]


def print_report(d):
    pct, med = d["percentile"], d["median"]
    slices = d["slices"]
    emb, w1, w0 = slices["embedded"], slices["redis-w1"], slices.get("redis-w0")
    missed = []
    print()
    print("date: %s UTC" % d["date"])
    print("machine: %d cores; load average at start %s, at end %s; tree %s" % (
        os.cpu_count(), " ".join(d["load_start"]), " ".join(d["load_end"]), d["commit"]))
    print("wrk -t%d -c%d, %d rounds x %d s per node (embedded, redis w=1%s in turn), %d users per slice; "
          "callsignd --io-threads 2; Redis primary + 1 replica + 3 Sentinels, wrk and the nodes share the %d cores" % (
              d["wrk_threads"], d["connections"], d["rounds"], d["slice"], ", redis w=0" if w0 else "",
              d["per_slice"], os.cpu_count()))
    for name, (count, seconds) in d["created"].items():
        print("users created through %-9s %7d in %5.1f s (%.0f PUT/s)" % (name + ":", count, seconds, count / seconds))

    print("\n1. POST /v1/verify, per round (req/s, p99 ms; ratio = redis / embedded of the same round)")
    ratios1, ratios0 = [], []
    for r, e in enumerate(emb):
        line = "  round %d: embedded %6.0f req/s p99 %6.2f | redis w=1 %6.0f req/s p99 %6.2f  ratio %.2f (p99 x%.2f)" % (
            r + 1, e["requests_per_second"], e["p99_ms"], w1[r]["requests_per_second"], w1[r]["p99_ms"],
            w1[r]["requests_per_second"] / e["requests_per_second"], w1[r]["p99_ms"] / e["p99_ms"])
        ratios1.append(w1[r]["requests_per_second"] / e["requests_per_second"])
        if w0:
            ratios0.append(w0[r]["requests_per_second"] / e["requests_per_second"])
            line += " | redis w=0 %6.0f req/s p99 %6.2f  ratio %.2f" % (
                w0[r]["requests_per_second"], w0[r]["p99_ms"], ratios0[-1])
        print(line)
    sides = [("embedded", emb), ("redis w=1", w1)] + ([("redis w=0", w0)] if w0 else [])
    for name, s in sides:
        seconds = sum(x["seconds"] for x in s)
        node, primary, replica, wrk = (sum(x[k] for x in s) for k in ("node_cpu", "primary_cpu", "replica_cpu", "wrk_cpu"))
        print("  %-10s %6.0f req/s over all slices, worst p99 %6.2f ms, p50 %s ms; non-2xx %d, socket errors %d, "
              "request list restarted %d times" % (name, _rate(s), max(x["p99_ms"] for x in s),
                                                   " / ".join("%.2f" % x["p50_ms"] for x in s),
                                                   sum(x["non_2xx"] for x in s), sum(x["socket_errors"] for x in s),
                                                   sum(x["wraps"] for x in s)))
        print("  %-10s CPU per request: callsignd %.1f us, redis primary %.1f us, replica %.1f us, wrk %.1f us; "
              "cores busy %.2f of %d" % ("", _us(node, s), _us(primary, s), _us(replica, s), _us(wrk, s),
                                         (node + primary + replica + wrk) / seconds, os.cpu_count()))
        if name != "embedded":
            usec = {c: sum(x["redis_usec"][c] for x in s) for c in s[0]["redis_usec"]}
            print("  %-10s Redis's own time per request (INFO commandstats): FCALL %.1f us, FCALL_RO %.1f us, "
                  "WAIT %.1f us" % ("", usec["fcall"] / _n(s), usec["fcall_ro"] / _n(s), usec["wait"] / _n(s)))
        print("  %-10s journal outcomes: %s" % ("", ", ".join(
            "%s %d" % kv for kv in sorted(d["journal"][_side_key(name)].items()))))
        if sum(x["non_2xx"] + x["socket_errors"] for x in s):
            missed.append("%s answered errors" % name)
    ratio1 = med(ratios1)
    print("  median ratio redis w=1 / embedded: %.2f (target >= 0.5)%s" % (
        ratio1, "; redis w=0 / embedded: %.2f" % med(ratios0) if w0 else ""))
    if ratio1 < 0.5:
        missed.append("throughput ratio %.2f below 0.5" % ratio1)

    print("\n2. Round trips per verify on the redis w=1 node (/metrics deltas over its slices)")
    rt = {k: sum(x["rt"][k] for x in w1) for k in w1[0]["rt"]}
    verifies = rt["verifies"]
    for op in d["rt_ops"]:
        print("  %-20s %9.0f  %.3f per verify" % (op, rt[op], rt[op] / verifies))
    per_verify = sum(rt[op] for op in d["rt_ops"]) / verifies
    print("  verifies answered    %9.0f; lookups + settle: %.3f round trips per verify (target <= 2; the WAIT "
          "is pipelined in the settle's exec); every round trip of the node (checkpoints too): %.3f" % (
              verifies, per_verify, rt["all"] / verifies))
    if per_verify > 2:
        missed.append("%.3f round trips per verify" % per_verify)
    if rt.get("wait_count"):
        print("  a round trip's wait, seen by the node (callsign_redis_round_trip_seconds): mean %.2f ms over %.0f" % (
            1000 * rt["wait_sum"] / rt["wait_count"], rt["wait_count"]))
    if rt.get("route_count"):
        print("  the route's own count (callsign_http_request_redis_round_trips{route=\"POST /v1/verify\"}): "
              "%.3f per verify over %.0f; %.0f of them (%.4f) took at most 2" % (
                  rt["route_sum"] / rt["route_count"], rt["route_count"], rt["route_within_two"],
                  rt["route_within_two"] / rt["route_count"]))
    stats = [l for l in d["redis_commandstats"].splitlines() if l.startswith("cmdstat_")]
    print("  Redis primary, whole run: " + ", ".join(
        "%s %s" % (l.split(":")[0][8:], l.split("calls=")[1].split(",")[0]) for l in stats))

    print("\n3. Cross-node propagation (node B's event through Redis to node A)")
    n = d["notices"]
    print("  notice: B's verify reply -> A's dashboard notice: %s" % _dist([s["reply_to_notice"] for s in n], pct))
    print("          verify sent -> A's notice:               %s" % _dist([s["send_to_notice"] for s in n], pct))
    print("          verify sent -> B's reply:                %s" % _dist([s["send_to_reply"] for s in n], pct))
    b = d["blocks"]
    print("  block:  B's blocking reply -> A's gate 429:      %s" % _dist([s["reply_to_429"] for s in b], pct))
    print("          fifth failure sent -> A's gate 429:      %s" % _dist([s["send_to_429"] for s in b], pct))
    print("          fifth failure sent -> B's reply:         %s" % _dist([s["send_to_reply"] for s in b], pct))
    if b:
        print("          gate polls per sample: mean %.2f, max %d (1 = the first poll after B's reply was already 429)" % (
            sum(s["polls"] for s in b) / len(b), max(s["polls"] for s in b)))
    for what, samples, problems, want, key in (("notice", n, d["notice_problems"], 200, "reply_to_notice"),
                                               ("block", b, d["block_problems"], 100, "reply_to_429")):
        for p in problems[:5]:
            print("  %s problem: %s" % (what, p))
        if problems or len(samples) < want:
            missed.append("%s: %d samples, %d problems" % (what, len(samples), len(problems)))
        elif pct([s[key] for s in samples], 99) > 50:
            missed.append("%s p99 above 50 ms" % what)

    for p in d["problems"]:
        print("process exit: " + p)
        missed.append(p)
    print("\ntargets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return bool(missed)
