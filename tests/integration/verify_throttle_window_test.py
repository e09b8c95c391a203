"""Integration (issue 16, defect 3): verify's per-user throttle counts failures exactly.

With the two-window estimate, five wrong codes just before a window edge were followed by five
more within the next window (ten within 17 s at a 20 s window and a limit of 5), because the
estimate spreads the earlier five over their whole window. Small limits are now counted with a
log of event times (docs/shared-state.md, "Rate counters"). This suite runs callsignd with a
10-second window and a limit of 5, sends five wrong codes just before a window edge and keeps
guessing across it, and requires that no 10-second span holds more than five accepted guesses,
that every 429's Retry-After is the time until the oldest counted failure leaves the window, and
that guessing is admitted again once it has."""
import json
import math
import sys
import time

from harness import check, check_problem, current_step, parse_args, phone_token_at, run_cases, wrong_code
from verify_api import Api

ARGS, _ = parse_args()

WINDOW_S = 10
LIMIT = 5
PERIOD = 30
CONFIG = """
[phone_token]
period = %d

[verify]
window_seconds = %d
user_failures = %d
agent_failures = 100000
ip_failures = 100000
""" % (PERIOD, WINDOW_S, LIMIT)


def wait_until_before_window_edge(lead_s):
    """Sleeps until lead_s seconds before the next multiple of the window in epoch time, where
    the old estimate's fixed windows turn over (the clock position is the point, not a sync)."""
    window = float(WINDOW_S)
    now = time.time()
    edge = (math.floor(now / window) + 1) * window
    if edge - now < lead_s + 0.2:
        edge += window
    time.sleep(edge - lead_s - now)


def test_no_more_than_limit_within_any_window():
    api = Api(ARGS, CONFIG)
    try:
        api.put_user("tw-1", "tw-1@example.com")
        api.token("customer", "tw-1")
        api.token("agent", "agent-1")
        step = current_step(PERIOD)
        # The test lasts under a minute: no step in its span has this code.
        bad = wrong_code(*[phone_token_at(api.data_dir, "tw-1", s) for s in range(step - 1, step + 4)])

        accepted = []  # (sent, received) of each 200 {"valid": false}
        refused = []   # (sent, received, Retry-After seconds) of each 429

        def guess():
            sent = time.time()
            status, headers, body = api.verify({"user": "tw-1", "code": bad})
            received = time.time()
            if status == 200:
                check(body and json.loads(body).get("valid") is False, "200 body %r" % body)
                accepted.append((sent, received))
            else:
                check_problem(status, headers, body, 429)
                retry = headers.get("retry-after", "")
                check(retry.isdigit(), "Retry-After %r" % retry)
                refused.append((sent, received, int(retry), len(accepted)))

        wait_until_before_window_edge(1.2)
        for _ in range(LIMIT):
            guess()
        check(len(accepted) == LIMIT, "the first %d wrong codes were not all accepted: %d" % (LIMIT, len(accepted)))
        first_sent, first_received = accepted[0]
        # Keep guessing across the edge and until the first failure has left the window, paced
        # so an ASan build under ctest -j2 keeps up.
        deadline = first_received + WINDOW_S + 4.0
        while time.time() < deadline:
            guess()
            time.sleep(0.15)

        # The property: a guess is accepted only when fewer than LIMIT failures are in the
        # window, so any LIMIT + 1 accepted guesses span at least the window. Client times
        # bracket the server's (sent <= server time <= received), so this holds exactly when
        # the server counts exactly and fails for any early admission.
        for j in range(len(accepted) - LIMIT):
            span = accepted[j + LIMIT][1] - accepted[j][0]
            check(span >= WINDOW_S,
                  "%d guesses accepted within %.2f s (window %d s, limit %d); accepted at %r" %
                  (LIMIT + 1, span, WINDOW_S, LIMIT, [round(s - first_sent, 2) for s, _ in accepted]))
        check(refused, "no guess was refused")
        # Retry-After is the time until the oldest counted failure leaves the window, rounded up.
        for sent, received, retry, count in refused:
            check(count >= LIMIT, "refused after only %d accepted guesses" % count)
            oldest_sent, oldest_received = accepted[count - LIMIT]
            low = math.ceil(oldest_sent + WINDOW_S - received)
            high = math.ceil(oldest_received + WINDOW_S - sent)
            check(max(low, 1) <= retry <= max(high, 1),
                  "Retry-After %d outside [%d, %d] at %.2f s" % (retry, low, high, sent - first_sent))
        # Liveness: once the first failure has left the window, a guess is admitted again
        # (3 s of slack for a loaded sanitizer build).
        later = [s for s, _ in accepted[LIMIT:]]
        check(later and later[0] <= first_received + WINDOW_S + 3.0,
              "no guess admitted again after the window; accepted at %r" %
              [round(s - first_sent, 2) for s, _ in accepted])
    finally:
        code = api.server.stop()
        api.close()
    check(code == 0, "callsignd exit status %r after SIGTERM" % code)


CASES = [
    ("no_more_than_limit_within_any_window", test_no_more_than_limit_within_any_window),
]


if __name__ == "__main__":
    sys.exit(run_cases(CASES))
