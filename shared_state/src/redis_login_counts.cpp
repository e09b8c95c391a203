#include "shared_state/redis_login_counts.hpp"

#include <string>
#include <utility>

#include "redis_attempts_calls.hpp"
#include "storage/rate_counters.hpp"

namespace callsign::shared_state {

namespace {

result<void> check(std::int64_t now_ms, std::span<const storage::count_read> keys, std::span<double> counts) {
  if (keys.size() != counts.size()) return make_error(error_kind::invalid_input, "one count per key");
  for (const auto& read : keys) {
    if (read.key.empty() || read.key.size() > storage::max_rate_key) {
      return make_error(error_kind::invalid_input, "rate key out of range");
    }
    if (auto ok = storage::check_rate_arguments(read.limit, now_ms); !ok) return ok;
  }
  return {};
}

}  // namespace

redis_login_counts::redis_login_counts(redis::client& client, redis_operation_counts* counts)
    : client_(client), counts_(counts) {}

std::optional<result<void>> redis_login_counts::read_inline(std::int64_t now_ms,
                                                            std::span<const storage::count_read> keys,
                                                            std::span<double> counts) {
  if (auto ok = check(now_ms, keys, counts); !ok) return ok;
  if (keys.empty()) return result<void>();
  return std::nullopt;
}

void redis_login_counts::read(std::int64_t now_ms, std::span<const storage::count_read> keys, std::span<double> counts,
                              storage::completion<void> done) {
  if (auto ok = check(now_ms, keys, counts); !ok) {
    done(ok.error());
    return;
  }
  if (keys.empty()) {
    done({});
    return;
  }
  redis::command call{"FCALL_RO", "callsign_login_counts", std::to_string(keys.size())};
  for (const auto& read : keys) call.push_back(counter_redis_key(read.key));
  call.push_back(std::to_string(now_ms));
  for (const auto& read : keys) {
    call.push_back(std::to_string(read.limit.limit));
    call.push_back(std::to_string(read.limit.window_ms));
  }
  if (counts_) counts_->login_counts.fetch_add(1, std::memory_order_relaxed);
  // A read: never followed by WAIT.
  detail::call_function(client_, std::move(call), redis_write_options{0, 0},
                        [counts, done = std::move(done)](result<redis::reply> reply) {
                          if (!reply) {
                            done(reply.error());
                            return;
                          }
                          using kind = redis::reply::kind;
                          if (reply->type != kind::array || reply->elements.size() != counts.size()) {
                            done(detail::unexpected_reply());
                            return;
                          }
                          for (std::size_t i = 0; i < counts.size(); ++i) {
                            auto value = detail::read_count(reply->elements[i]);
                            if (!value) {
                              done(detail::unexpected_reply());
                              return;
                            }
                            counts[i] = *value;
                          }
                          done({});
                        });
}

}  // namespace callsign::shared_state
