#include "shared_state/redis_blocks.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "redis_attempts_calls.hpp"
#include "storage/sliding_window.hpp"

namespace callsign::shared_state {

namespace {

result<void> check(std::string_view key, std::int64_t now_ms) {
  if (key.empty() || key.size() > storage::max_block_key) {
    return make_error(error_kind::invalid_input, "block key out of range");
  }
  return storage::check_window_arguments(now_ms, 1);
}

// nil, or one entry naming `key`.
result<std::optional<storage::block_entry>> read_one(const redis::reply& r, std::string_view key) {
  if (r.is_nil()) return std::optional<storage::block_entry>{};
  auto entry = detail::read_block_entry(r);
  if (!entry || entry->key != key) return detail::unexpected_reply();
  return std::optional<storage::block_entry>(std::move(*entry));
}

}  // namespace

redis_block_directory::redis_block_directory(redis::client& client, redis_write_options options,
                                             redis_operation_counts* counts)
    : client_(client), options_(options), counts_(counts) {}

void redis_block_directory::list(std::int64_t now_ms, storage::completion<std::vector<storage::block_entry>> done) {
  if (auto ok = storage::check_window_arguments(now_ms, 1); !ok) {
    done(ok.error());
    return;
  }
  if (counts_) counts_->block_admin.fetch_add(1, std::memory_order_relaxed);
  detail::call_function(
      client_, {"FCALL", "callsign_blocks_list", "1", std::string(blocks_index_key), std::to_string(now_ms)}, {},
      [done = std::move(done)](result<redis::reply> reply) {
        if (!reply) {
          done(reply.error());
          return;
        }
        if (reply->type != redis::reply::kind::array) {
          done(detail::unexpected_reply());
          return;
        }
        std::vector<storage::block_entry> out;
        for (const auto& element : reply->elements) {
          auto entry = detail::read_block_entry(element);
          if (!entry) {
            done(detail::unexpected_reply());
            return;
          }
          out.push_back(std::move(*entry));
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
        done(std::move(out));
      });
}

void redis_block_directory::lift(std::string_view key, std::int64_t now_ms, storage::change_set&,
                                 storage::completion<std::optional<storage::block_entry>> done) {
  if (auto ok = check(key, now_ms); !ok) {
    done(ok.error());
    return;
  }
  if (counts_) counts_->block_admin.fetch_add(1, std::memory_order_relaxed);
  detail::call_function(client_,
                        {"FCALL", "callsign_blocks_lift", "2", block_redis_key(key), std::string(blocks_index_key),
                         std::to_string(now_ms)},
                        options_, [done = std::move(done), key = std::string(key)](result<redis::reply> reply) {
                          if (!reply) {
                            done(reply.error());
                            return;
                          }
                          done(read_one(*reply, key));
                        });
}

void redis_block_directory::find(std::string_view key, std::int64_t now_ms,
                                 storage::completion<std::optional<storage::block_entry>> done) {
  if (auto ok = check(key, now_ms); !ok) {
    done(ok.error());
    return;
  }
  if (counts_) counts_->block_admin.fetch_add(1, std::memory_order_relaxed);
  detail::call_function(client_, {"FCALL", "callsign_blocks_find", "1", block_redis_key(key), std::to_string(now_ms)},
                        {}, [done = std::move(done), key = std::string(key)](result<redis::reply> reply) {
                          if (!reply) {
                            done(reply.error());
                            return;
                          }
                          done(read_one(*reply, key));
                        });
}

}  // namespace callsign::shared_state
