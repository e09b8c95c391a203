#include "storage/embedded_blocks.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include "storage/block_record.hpp"
#include "storage/shared_state_format.hpp"
#include "storage/sliding_window.hpp"
#include "striped_map.hpp"

namespace callsign::storage {

struct embedded_blocks::state {
  detail::striped_map<block_record> records;
};

namespace {

using record_map = detail::striped_map<block_record>;

result<void> check_key(std::string_view key, std::int64_t now_ms) {
  if (key.empty() || key.size() > max_block_key) {
    return make_error(error_kind::invalid_input, "block key must be 1 to " + std::to_string(max_block_key) + " bytes");
  }
  if (now_ms < 0 || now_ms > max_time_ms) {
    return make_error(error_kind::invalid_input, "time out of range");
  }
  return {};
}

block_entry entry_of(std::string_view key, const block_record& r) {
  return block_entry{std::string(key), r.until_ms, r.created_ms, r.rule};
}

// The revision of the next change: above anything memory or disk holds for the key, so the
// merge operator ranks it newest even when memory had forgotten an expired record that is
// still on disk. Called with the stripe locked; block and lift are rare, so the read is too,
// and a login attempt readies it first (ready_to_block), so it finds the record in the cache.
result<std::int64_t> next_revision(database& db, const record_map::stripe& s, std::string_view key,
                                   std::int64_t now_ms) {
  std::int64_t previous = -1;
  if (auto it = s.entries.find(key); it != s.entries.end()) {
    previous = it->second.revision;
  } else {
    auto stored = db.get(column_family::counters, block_record_key(key));
    if (!stored) return stored.error();
    if (stored->has_value()) {
      if (auto decoded = decode_block_record(**stored)) previous = decoded->revision;
    }
  }
  return std::max(now_ms, previous + 1);
}

}  // namespace

embedded_blocks::embedded_blocks(database& db, std::unique_ptr<state> s) : db_(db), state_(std::move(s)) {}
embedded_blocks::~embedded_blocks() = default;

result<std::unique_ptr<embedded_blocks>> embedded_blocks::open(database& db, std::int64_t now_ms) {
  auto s = std::make_unique<state>();
  const std::string prefix(1, block_key_prefix);
  std::optional<error> failure;
  auto scanned = db.scan(column_family::counters, database::scan_direction::forward, prefix,
                         [&](std::string_view key, std::string_view value) {
                           if (key.empty() || key[0] != block_key_prefix) return false;
                           auto record = decode_block_record(value);
                           if (!record) {
                             failure = record.error();
                             return false;
                           }
                           if (!record->expired(now_ms)) {
                             const auto block_key = key.substr(1);
                             s->records.stripe_for(block_key).entries.emplace(std::string(block_key), *record);
                           }
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return std::unique_ptr<embedded_blocks>(new embedded_blocks(db, std::move(s)));
}

result<block_outcome> embedded_blocks::block(std::string_view key, std::int64_t until_ms, std::string_view rule,
                                             std::int64_t now_ms, change_set& changes) {
  if (auto ok = check_key(key, now_ms); !ok) return ok.error();
  if (rule.empty() || rule.size() > max_block_rule) {
    return make_error(error_kind::invalid_input,
                      "block rule must be 1 to " + std::to_string(max_block_rule) + " bytes");
  }
  if (until_ms <= now_ms || until_ms > max_time_ms) {
    return make_error(error_kind::invalid_input, "block must end after now and within range");
  }
  auto& s = state_->records.stripe_for(key);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it != s.entries.end() && it->second.active(now_ms) && it->second.until_ms >= until_ms) {
    return block_outcome{entry_of(key, it->second), false};  // already blocked at least as long
  }
  auto revision = next_revision(db_, s, key, now_ms);
  if (!revision) return revision.error();
  block_record next;
  next.revision = *revision;
  next.until_ms = until_ms;
  next.rule = std::string(rule);
  const bool in_force = it != s.entries.end() && it->second.active(now_ms);
  next.created_ms = in_force ? it->second.created_ms : now_ms;
  // Append first: if that allocation throws, memory is unchanged.
  changes.merge(column_family::counters, block_record_key(key), encode_block_record(next));
  if (it != s.entries.end()) {
    it->second = next;
  } else {
    s.entries.emplace(std::string(key), next);
  }
  record_map::sweep_expired_if_due(s, now_ms);
  return block_outcome{entry_of(key, next), !in_force};
}

result<void> embedded_blocks::ready_to_block(std::string_view key, std::int64_t now_ms) {
  if (auto ok = check_key(key, now_ms); !ok) return ok.error();
  {
    auto& s = state_->records.stripe_for(key);
    std::lock_guard lock(s.mutex);
    if (s.entries.find(key) != s.entries.end()) return {};  // next_revision reads memory only
  }
  // Unlocked: a read that waits for the disk (on the blocking pool) holds no stripe that the
  // login signals' find() needs. Only the cache it warms is kept.
  auto stored = db_.get(column_family::counters, block_record_key(key));
  if (!stored) return stored.error();
  return {};
}

result<std::optional<block_entry>> embedded_blocks::find(std::string_view key, std::int64_t now_ms) {
  if (auto ok = check_key(key, now_ms); !ok) return ok.error();
  auto& s = state_->records.stripe_for(key);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end() || !it->second.active(now_ms)) return std::optional<block_entry>{};
  return std::optional<block_entry>(entry_of(key, it->second));
}

result<std::vector<block_entry>> embedded_blocks::list(std::int64_t now_ms) {
  if (now_ms < 0 || now_ms > max_time_ms) {
    return make_error(error_kind::invalid_input, "time out of range");
  }
  std::vector<block_entry> out;
  for (auto& s : state_->records.stripes()) {
    std::lock_guard lock(s.mutex);
    for (const auto& [key, record] : s.entries) {
      if (record.active(now_ms)) out.push_back(entry_of(key, record));
    }
  }
  std::sort(out.begin(), out.end(), [](const block_entry& a, const block_entry& b) { return a.key < b.key; });
  return out;
}

result<std::optional<block_entry>> embedded_blocks::lift(std::string_view key, std::int64_t now_ms,
                                                         change_set& changes) {
  if (auto ok = check_key(key, now_ms); !ok) return ok.error();
  auto& s = state_->records.stripe_for(key);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end() || !it->second.active(now_ms)) return std::optional<block_entry>{};
  block_record next = it->second;
  next.revision = std::max(now_ms, it->second.revision + 1);
  next.lifted_ms = now_ms;
  changes.merge(column_family::counters, block_record_key(key), encode_block_record(next));
  auto ended = entry_of(key, it->second);
  it->second = next;  // kept as a tombstone until its until passes
  return std::optional<block_entry>(std::move(ended));
}

std::size_t embedded_blocks::sweep(std::int64_t now_ms) {
  std::size_t dropped = 0;
  for (auto& s : state_->records.stripes()) {
    std::lock_guard lock(s.mutex);
    dropped += record_map::sweep_expired(s, now_ms);
  }
  return dropped;
}

}  // namespace callsign::storage
