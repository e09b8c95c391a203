#include "storage/embedded_replay_marks.hpp"

#include <mutex>
#include <string>

#include "storage/shared_state_format.hpp"
#include "striped_map.hpp"

namespace callsign::storage {

// nullopt = known to be absent (nothing on disk either), so a repeated miss costs no read.
struct embedded_replay_marks::state {
  detail::striped_map<std::optional<std::uint64_t>> marks;
};

namespace {

using mark_map = detail::striped_map<std::optional<std::uint64_t>>;

result<void> check_part(std::string_view part, const char* what) {
  if (part.empty() || part.size() > max_replay_mark_part) {
    return make_error(error_kind::invalid_input,
                      std::string(what) + " must be 1 to " + std::to_string(max_replay_mark_part) + " bytes");
  }
  return {};
}

result<void> check_pair(std::string_view user, std::string_view method) {
  if (auto ok = check_part(user, "user id"); !ok) {
    return ok;
  }
  return check_part(method, "method");
}

// Finds the key's entry, loading it from RocksDB on a miss. The stripe lock is released
// during the read so a slow read does not stall the stripe; on return it is held again and an
// entry another thread inserted meanwhile wins, being at least as new as what was read
// (marks never leave memory, so memory is never older than disk).
result<std::optional<std::uint64_t>*> find_or_load(database& db, mark_map::stripe& s,
                                                   std::unique_lock<std::mutex>& lock, const std::string& key) {
  if (auto it = s.entries.find(key); it != s.entries.end()) {
    return &it->second;
  }
  lock.unlock();
  auto stored = db.get(column_family::replay_marks, key);
  lock.lock();
  if (!stored) {
    return stored.error();
  }
  std::optional<std::uint64_t> loaded;
  if (stored->has_value()) {
    auto step = decode_replay_mark(**stored);
    if (!step) {
      return step.error();
    }
    loaded = *step;
  }
  auto [it, inserted] = s.entries.try_emplace(key, loaded);
  return &it->second;
}

}  // namespace

embedded_replay_marks::embedded_replay_marks(database& db) : db_(db), state_(std::make_unique<state>()) {}

embedded_replay_marks::~embedded_replay_marks() = default;

result<bool> embedded_replay_marks::claim(std::string_view user, std::string_view method, std::uint64_t step,
                                          change_set& changes) {
  if (auto ok = check_pair(user, method); !ok) {
    return ok.error();
  }
  const std::string key = replay_mark_record_key(user, method);
  auto& s = state_->marks.stripe_for(key);
  std::unique_lock lock(s.mutex);
  auto slot = find_or_load(db_, s, lock, key);
  if (!slot) {
    return slot.error();
  }
  std::optional<std::uint64_t>& mark = **slot;
  if (mark.has_value() && step <= *mark) {
    return false;
  }
  // Append first: if that allocation throws, the mark is unchanged.
  changes.merge(column_family::replay_marks, key, encode_replay_mark(step));
  mark = step;
  return true;
}

result<std::optional<std::uint64_t>> embedded_replay_marks::last_step(std::string_view user, std::string_view method) {
  if (auto ok = check_pair(user, method); !ok) {
    return ok.error();
  }
  const std::string key = replay_mark_record_key(user, method);
  auto& s = state_->marks.stripe_for(key);
  std::unique_lock lock(s.mutex);
  auto slot = find_or_load(db_, s, lock, key);
  if (!slot) {
    return slot.error();
  }
  return **slot;
}

std::size_t embedded_replay_marks::cached_marks() {
  return state_->marks.size();
}

}  // namespace callsign::storage
