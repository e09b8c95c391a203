#include "storage/block_cache.hpp"

#include <algorithm>
#include <iterator>

namespace callsign::storage {
namespace {

result<void> check_key(std::string_view key) {
  if (key.empty() || key.size() > max_block_key) {
    return make_error(error_kind::invalid_input, "block key must be 1 to 512 bytes");
  }
  return {};
}

}  // namespace

result<block_outcome> block_cache::block(std::string_view key, std::int64_t until_ms, std::string_view rule,
                                         std::int64_t now_ms, change_set& /*changes*/) {
  if (auto ok = check_key(key); !ok) {
    return ok.error();
  }
  if (rule.empty() || rule.size() > max_block_rule || until_ms <= now_ms) {
    return make_error(error_kind::invalid_input, "a block needs a rule of 1 to 64 bytes and an end after now");
  }
  std::lock_guard lock(mutex_);
  touch_locked(key);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.until_ms > now_ms) {
    if (it->second.until_ms < until_ms) {
      it->second.until_ms = until_ms;
      it->second.rule = std::string(rule);
    }
    return block_outcome{it->second, false};
  }
  block_entry entry{std::string(key), until_ms, now_ms, std::string(rule)};
  if (it == entries_.end()) sweep_if_due_locked(now_ms);
  entries_.insert_or_assign(std::string(key), entry);
  return block_outcome{std::move(entry), true};
}

void block_cache::sweep_if_due_locked(std::int64_t now_ms) {
  latest_now_ms_ = std::max(latest_now_ms_, now_ms);
  if (entries_.size() < sweep_at_) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.until_ms <= now_ms ? entries_.erase(it) : std::next(it);
  }
  sweep_at_ = std::max<std::size_t>(64, 2 * entries_.size());  // amortised: O(1) per insertion
}

result<std::optional<block_entry>> block_cache::find(std::string_view key, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  latest_now_ms_ = std::max(latest_now_ms_, now_ms);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.until_ms <= now_ms) {
    return std::optional<block_entry>{};
  }
  return std::optional<block_entry>{it->second};
}

result<std::vector<block_entry>> block_cache::list(std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  std::vector<block_entry> active;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.until_ms <= now_ms) {
      it = entries_.erase(it);  // expired: the authority has dropped it too
      continue;
    }
    active.push_back(it->second);
    ++it;
  }
  return active;
}

result<std::optional<block_entry>> block_cache::lift(std::string_view key, std::int64_t now_ms,
                                                     change_set& /*changes*/) {
  std::lock_guard lock(mutex_);
  touch_locked(key);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return std::optional<block_entry>{};
  }
  auto entry = std::move(it->second);
  entries_.erase(it);
  if (entry.until_ms <= now_ms) {
    return std::optional<block_entry>{};
  }
  return std::optional<block_entry>{std::move(entry)};
}

void block_cache::apply(const block_entry& entry) {
  std::lock_guard lock(mutex_);
  touch_locked(entry.key);
  const std::int64_t now_ms = std::max(latest_now_ms_, entry.created_ms);
  auto it = entries_.find(entry.key);
  if (it != entries_.end() && it->second.until_ms >= entry.until_ms) {
    return;  // events can arrive after a reload that already held a later end
  }
  if (it == entries_.end()) sweep_if_due_locked(now_ms);
  entries_.insert_or_assign(entry.key, entry);
}

void block_cache::remove(std::string_view key) {
  std::lock_guard lock(mutex_);
  touch_locked(key);
  if (auto it = entries_.find(key); it != entries_.end()) {
    entries_.erase(it);
  }
}

void block_cache::touch_locked(std::string_view key) {
  ++change_seq_;
  if (pending_reloads_ == 0) return;
  if (auto it = touched_.find(key); it != touched_.end()) {
    it->second = change_seq_;
  } else {
    touched_.emplace(std::string(key), change_seq_);
  }
}

void block_cache::end_reload_locked() {
  if (pending_reloads_ > 0 && --pending_reloads_ == 0) touched_.clear();
}

block_cache::reload_ticket block_cache::begin_reload() {
  std::lock_guard lock(mutex_);
  ++pending_reloads_;
  return reload_ticket{change_seq_};
}

void block_cache::abandon_reload(reload_ticket /*ticket*/) {
  std::lock_guard lock(mutex_);
  end_reload_locked();
}

void block_cache::replace_all(std::vector<block_entry> entries, std::optional<reload_ticket> ticket) {
  std::map<std::string, block_entry, std::less<>> fresh;
  for (auto& e : entries) {
    auto key = e.key;
    fresh.insert_or_assign(std::move(key), std::move(e));
  }
  std::lock_guard lock(mutex_);
  if (ticket) {
    // Keys changed since the list was asked for keep the copy's state: it may be newer.
    for (const auto& [key, seq] : touched_) {
      if (seq <= ticket->since) continue;
      if (auto kept = entries_.find(key); kept != entries_.end()) {
        fresh.insert_or_assign(key, kept->second);
      } else {
        fresh.erase(key);
      }
    }
    end_reload_locked();
  }
  entries_.swap(fresh);
  sweep_at_ = std::max<std::size_t>(64, 2 * entries_.size());
}

std::size_t block_cache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace callsign::storage
