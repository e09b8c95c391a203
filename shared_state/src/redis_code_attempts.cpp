#include <string>
#include <string_view>
#include <utility>

#include "redis_attempts_calls.hpp"
#include "shared_state/redis_attempts.hpp"
#include "storage/rate_counters.hpp"
#include "storage/replay_marks.hpp"

namespace callsign::shared_state {

namespace {

result<void> check(const storage::code_attempt& attempt) {
  for (const auto& failure : attempt.failures) {
    if (failure.key.empty() || failure.key.size() > storage::max_rate_key) {
      return make_error(error_kind::invalid_input, "rate key out of range");
    }
    if (auto ok = storage::check_rate_arguments(failure.limit, attempt.now_ms); !ok) return ok;
  }
  if (auto ok = storage::check_window_arguments(attempt.now_ms, 1); !ok) return ok;
  if (attempt.claim) {
    for (std::string_view part : {std::string_view(attempt.claim->user), std::string_view(attempt.claim->method)}) {
      if (part.empty() || part.size() > storage::max_replay_mark_part) {
        return make_error(error_kind::invalid_input, "replay mark part out of range");
      }
    }
    const auto& start = attempt.claim->step_start_ms;
    if (!start || *start < 0 || *start > storage::max_time_ms) {
      return make_error(error_kind::invalid_input, "a claim needs the start time of its step");
    }
  }
  return {};
}

// callsign_settle's outcome codes (lua/attempts.lua).
enum outcome : std::int64_t { throttled = 0, accepted = 1, replayed = 2, counted = 3 };

result<storage::code_attempt_result> read_settle(const redis::reply& r, bool has_claim) {
  if (r.type != redis::reply::kind::array || r.elements.size() != 2U) return detail::unexpected_reply();
  auto code = detail::read_integer(r.elements[0]);
  auto retry = detail::read_integer(r.elements[1]);
  if (!code || !retry) return detail::unexpected_reply();
  storage::code_attempt_result out;
  switch (*code) {
    case throttled:
      if (*retry < 1) return detail::unexpected_reply();
      out.throttled = true;
      out.retry_after_seconds = *retry;
      return out;
    case accepted:
      if (!has_claim) return detail::unexpected_reply();
      out.accepted = true;
      return out;
    case replayed:
      if (!has_claim) return detail::unexpected_reply();
      out.replayed = true;
      return out;
    case counted:
      if (has_claim) return detail::unexpected_reply();
      return out;
    default:
      return detail::unexpected_reply();
  }
}

}  // namespace

redis_code_attempts::redis_code_attempts(redis::client& client, redis_write_options options,
                                         redis_operation_counts* counts)
    : client_(client), options_(options), counts_(counts) {}

void redis_code_attempts::settle(const storage::code_attempt& attempt, storage::change_set&,
                                 storage::completion<storage::code_attempt_result> done) {
  if (auto ok = check(attempt); !ok) {
    done(ok.error());
    return;
  }
  const bool has_claim = attempt.claim.has_value();
  redis::command call{"FCALL", "callsign_settle", ""};
  call.push_back(std::string(fence_key));
  if (has_claim) call.push_back(mark_key(attempt.claim->user, attempt.claim->method));
  for (const auto& failure : attempt.failures) call.push_back(counter_redis_key(failure.key));
  call[2] = std::to_string(call.size() - 3);
  call.push_back(std::to_string(attempt.now_ms));
  call.push_back(has_claim ? "1" : "0");
  call.push_back(has_claim ? std::to_string(attempt.claim->step) : "0");
  call.push_back(has_claim ? std::to_string(*attempt.claim->step_start_ms) : "0");
  for (const auto& failure : attempt.failures) {
    call.push_back(std::to_string(failure.limit.limit));
    call.push_back(std::to_string(failure.limit.window_ms));
  }
  if (counts_) counts_->settle.fetch_add(1, std::memory_order_relaxed);
  detail::call_function(client_, std::move(call), options_,
                        [done = std::move(done), has_claim](result<redis::reply> reply) {
                          if (!reply) {
                            done(reply.error());
                            return;
                          }
                          done(read_settle(*reply, has_claim));
                        });
}

}  // namespace callsign::shared_state
