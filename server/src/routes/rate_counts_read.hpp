// POST /v1/login/check and GET /v1/login/gate on shared state, when the rules read a
// rate.login_failures.* count the backend cannot answer inline: one read of the counts, then the
// rules' decision, then the route's own reply (docs/rules.md). Routes-private.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "server/http/router.hpp"
#include "server/rules/login_decision.hpp"
#include "storage/login_counts.hpp"

namespace callsign::server {

// `run` holds `reads`, `fields` (whose views point into `run` itself) and `rules`, and lives
// until the reply; `answer(const InFlight&, const login_decision&)` builds the reply. A failed
// read (Redis down) is the reply's error: a 503, never a count of 0.
template <class InFlight, class Answer>
async_response decide_after_counts(storage::login_counts& counts, std::int64_t now_ms, std::shared_ptr<InFlight> run,
                                   Answer answer) {
  return async_response{[&counts, now_ms, run = std::move(run),
                         answer = std::move(answer)](std::function<void(handler_result)> resume) {
    counts.read(now_ms, run->reads.read_keys(), run->reads.read_counts(),
                [run, answer, resume = std::move(resume)](result<void> read) {
                  if (!read) {
                    resume(read.error());
                    return;
                  }
                  apply_rate_counts(run->reads, run->fields);
                  resume(answer(*run, decide_by_rules(*run->rules, run->fields)));
                });
  }};
}

}  // namespace callsign::server
