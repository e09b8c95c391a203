#include "redis_attempts_calls.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace callsign::shared_state::detail {

namespace {
error unavailable(std::string message) { return make_error(error_kind::unavailable, std::move(message)); }
}  // namespace

error unexpected_reply() { return make_error(error_kind::internal, "shared state: unexpected reply from Redis"); }

void call_function(redis::client& client, redis::command call, const redis_write_options& options,
                   std::function<void(result<redis::reply>)> done) {
  std::vector<redis::command> commands;
  commands.push_back(std::move(call));
  const bool wait = options.wait_replicas > 0;
  auto answer = [done = std::move(done), wait, replicas = options.wait_replicas](
                    result<std::vector<redis::reply>> replies) {
    if (!replies) {
      done(unavailable("shared state unavailable"));
      return;
    }
    if (replies->size() != (wait ? 2U : 1U)) {
      done(unexpected_reply());
      return;
    }
    auto& reply = replies->front();
    if (reply.is_error()) {
      // Only our own functions' message names a corrupt record; everything else (no function
      // loaded, out of memory, a read-only replica, ...) is the server being unfit right now.
      if (reply.text.find("callsign: corrupt state") != std::string::npos) {
        done(make_error(error_kind::internal, "shared state: corrupt record in Redis"));
      } else {
        done(unavailable("shared state unavailable"));
      }
      return;
    }
    if (wait) {
      const auto& acks = replies->back();
      if (acks.type != redis::reply::kind::integer || acks.integer < replicas) {
        done(unavailable("shared state: not acknowledged by a replica"));
        return;
      }
    }
    done(std::move(reply));
  };
  if (wait) {
    // The WAIT's reply comes last; concurrent calls share one WAIT (redis/client.hpp).
    client.exec_acknowledged(std::move(commands), {options.wait_replicas, std::max<std::int64_t>(options.wait_timeout_ms, 1)},
                             std::move(answer));
  } else {
    client.exec(std::move(commands), std::move(answer));
  }
}

std::optional<std::int64_t> read_integer(const redis::reply& r) {
  if (r.type == redis::reply::kind::integer) return r.integer;
  if (r.type != redis::reply::kind::string) return std::nullopt;
  std::int64_t value = 0;
  const auto* end = r.text.data() + r.text.size();
  auto [ptr, ec] = std::from_chars(r.text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<double> read_count(const redis::reply& r) {
  if (r.type != redis::reply::kind::string) return std::nullopt;
  double value = 0;
  const auto* end = r.text.data() + r.text.size();
  auto [ptr, ec] = std::from_chars(r.text.data(), end, value);
  // A count is a whole number of failures (or an estimate of one) far below 2^53: infinity, NaN
  // or a huge value is not one, and would make the rules' integer conversion undefined.
  if (ec != std::errc() || ptr != end || !(value >= 0) || !(value < 9.0e15)) return std::nullopt;
  return value;
}

std::optional<storage::block_entry> read_block_entry(const redis::reply& r) {
  if (r.type != redis::reply::kind::array || r.elements.size() != 4U) return std::nullopt;
  const auto& key = r.elements[0];
  const auto& rule = r.elements[3];
  auto until_ms = read_integer(r.elements[1]);
  auto created_ms = read_integer(r.elements[2]);
  if (key.type != redis::reply::kind::string || rule.type != redis::reply::kind::string || !until_ms || !created_ms) {
    return std::nullopt;
  }
  storage::block_entry entry{key.text, *until_ms, *created_ms, rule.text};
  if (!entry.times_in_range()) return std::nullopt;
  return entry;
}

}  // namespace callsign::shared_state::detail
