#include <string>
#include <utility>

#include "redis_attempts_calls.hpp"
#include "shared_state/redis_attempts.hpp"
#include "storage/rate_counters.hpp"

namespace callsign::shared_state {

namespace {

result<void> check_block_key(const std::string& key) {
  if (key.empty() || key.size() > storage::max_block_key) {
    return make_error(error_kind::invalid_input, "block key out of range");
  }
  return {};
}

result<void> check_rate_key(const std::string& key) {
  if (key.empty() || key.size() > storage::max_rate_key) {
    return make_error(error_kind::invalid_input, "rate key out of range");
  }
  return {};
}

result<void> check(const storage::login_attempt& attempt) {
  if (auto ok = storage::check_window_arguments(attempt.now_ms, 1); !ok) return ok;
  for (const auto& key : attempt.check_keys) {
    if (auto ok = check_block_key(key); !ok) return ok;
  }
  if (!attempt.failure) return {};
  for (const auto& rule : attempt.rules) {
    if (rule.rule.empty() || rule.rule.size() > storage::max_block_rule) {
      return make_error(error_kind::invalid_input, "block rule out of range");
    }
    if (auto ok = storage::check_rate_arguments(rule.limit, attempt.now_ms); !ok) return ok;
    if (rule.block_until_ms <= attempt.now_ms || rule.block_until_ms > storage::max_time_ms) {
      return make_error(error_kind::invalid_input, "block must end after now and within range");
    }
    for (const auto* key : {&rule.counter_key, rule.previous_counter_key ? &*rule.previous_counter_key : nullptr}) {
      if (key) {
        if (auto ok = check_rate_key(*key); !ok) return ok;
      }
    }
    for (const auto* key : {&rule.block_key, rule.previous_block_key ? &*rule.previous_block_key : nullptr}) {
      if (key) {
        if (auto ok = check_block_key(*key); !ok) return ok;
      }
    }
  }
  return {};
}

result<storage::login_attempt_result> read_record(const redis::reply& r, std::size_t rules, std::size_t checks) {
  using kind = redis::reply::kind;
  if (r.type != kind::array || r.elements.size() != 3U) return detail::unexpected_reply();
  const auto& counts = r.elements[0];
  const auto& started = r.elements[1];
  const auto& active = r.elements[2];
  if (counts.type != kind::array || started.type != kind::array || active.type != kind::array ||
      counts.elements.size() != rules || started.elements.size() > rules || active.elements.size() != checks) {
    return detail::unexpected_reply();
  }
  storage::login_attempt_result out;
  for (const auto& count : counts.elements) {
    if (count.type != kind::array || count.elements.size() != 2U) return detail::unexpected_reply();
    auto failures = detail::read_count(count.elements[0]);
    auto tripped = detail::read_integer(count.elements[1]);
    if (!failures || !tripped || (*tripped != 0 && *tripped != 1)) return detail::unexpected_reply();
    out.counts.push_back({*failures, *tripped == 1});
  }
  for (const auto& entry : started.elements) {
    auto block = detail::read_block_entry(entry);
    if (!block) return detail::unexpected_reply();
    out.started.push_back(std::move(*block));
  }
  for (const auto& entry : active.elements) {
    if (entry.is_nil()) {
      out.active.emplace_back();
      continue;
    }
    auto block = detail::read_block_entry(entry);
    if (!block) return detail::unexpected_reply();
    out.active.emplace_back(std::move(*block));
  }
  return out;
}

}  // namespace

redis_login_attempts::redis_login_attempts(redis::client& client, redis_write_options options,
                                           redis_operation_counts* counts)
    : client_(client), options_(options), counts_(counts) {}

void redis_login_attempts::record(const storage::login_attempt& attempt, storage::change_set&,
                                  storage::completion<storage::login_attempt_result> done) {
  if (auto ok = check(attempt); !ok) {
    done(ok.error());
    return;
  }
  // Successes change nothing: only the check keys are read.
  const std::size_t rules = attempt.failure ? attempt.rules.size() : 0;
  redis::command call{"FCALL", "callsign_login_record", ""};
  std::vector<std::string> args{std::to_string(attempt.now_ms), attempt.failure ? "1" : "0", std::to_string(rules),
                                std::to_string(attempt.check_keys.size())};
  for (std::size_t i = 0; i < rules; ++i) {
    const auto& rule = attempt.rules[i];
    call.push_back(counter_redis_key(rule.counter_key));
    call.push_back(block_redis_key(rule.block_key));
    if (rule.previous_counter_key) call.push_back(counter_redis_key(*rule.previous_counter_key));
    if (rule.previous_block_key) call.push_back(block_redis_key(*rule.previous_block_key));
    args.insert(args.end(), {rule.rule, std::to_string(rule.limit.limit), std::to_string(rule.limit.window_ms),
                             std::to_string(rule.block_until_ms), rule.shadow ? "1" : "0",
                             rule.previous_counter_key ? "1" : "0", rule.previous_block_key ? "1" : "0"});
  }
  for (const auto& key : attempt.check_keys) call.push_back(block_redis_key(key));
  call[2] = std::to_string(call.size() - 3);
  for (auto& arg : args) call.push_back(std::move(arg));
  if (counts_) counts_->login_record.fetch_add(1, std::memory_order_relaxed);
  // A success writes nothing: no WAIT for it.
  const redis_write_options options = attempt.failure ? options_ : redis_write_options{0, 0};
  detail::call_function(client_, std::move(call), options,
                        [done = std::move(done), rules, checks = attempt.check_keys.size()](
                            result<redis::reply> reply) {
                          if (!reply) {
                            done(reply.error());
                            return;
                          }
                          done(read_record(*reply, rules, checks));
                        });
}

}  // namespace callsign::shared_state
