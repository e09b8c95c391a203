// An in-memory storage::replay_marks and storage::rate_counters for unit tests: the smallest
// backend that keeps the interfaces' contracts (storage/replay_marks.hpp, rate_counters.hpp),
// with the shared rate_window arithmetic and nothing persisted. Test suites run once over this
// fake and once over the embedded RocksDB backend (tests/server/verification/verify_code_test.cpp), so the
// same suite can become the contract test a Redis/Valkey backend must pass (issue 17).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "storage/rate_counters.hpp"
#include "storage/replay_marks.hpp"

namespace callsign::test {

// Thread-safety: one mutex around the map; any thread.
class memory_replay_marks final : public storage::replay_marks {
 public:
  result<bool> claim(std::string_view user, std::string_view method, std::uint64_t step,
                     storage::change_set&) override {
    if (auto ok = check(user, method); !ok) return ok.error();
    std::lock_guard lock(mutex_);
    auto [it, inserted] = marks_.try_emplace({std::string(user), std::string(method)}, step);
    if (inserted) return true;
    if (step <= it->second) return false;
    it->second = step;
    return true;
  }

  result<std::optional<std::uint64_t>> last_step(std::string_view user, std::string_view method) override {
    if (auto ok = check(user, method); !ok) return ok.error();
    std::lock_guard lock(mutex_);
    auto it = marks_.find({std::string(user), std::string(method)});
    if (it == marks_.end()) return std::optional<std::uint64_t>{};
    return std::optional<std::uint64_t>(it->second);
  }

 private:
  static result<void> check(std::string_view user, std::string_view method) {
    for (auto part : {user, method}) {
      if (part.empty() || part.size() > storage::max_replay_mark_part) {
        return make_error(error_kind::invalid_input, "replay mark part out of range");
      }
    }
    return {};
  }

  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> marks_;
};

// Thread-safety: one mutex around the map; any thread.
class memory_rate_counters final : public storage::rate_counters {
 public:
  result<storage::rate_estimate> estimate(std::string_view key, std::int64_t now_ms,
                                          const storage::rate_limit& limit) override {
    if (auto ok = check(key, now_ms, limit); !ok) return ok.error();
    std::lock_guard lock(mutex_);
    auto it = windows_.find(std::string(key));
    // Estimates change nothing: another window or kind is applied to a copy.
    auto window = it == windows_.end() ? storage::rate_window::empty(limit, now_ms) : it->second;
    if (!window.fits(limit)) window.adapt(limit, now_ms);
    return window.measure(limit, now_ms);
  }

  result<storage::rate_estimate> add(std::string_view key, std::int64_t amount, std::int64_t now_ms,
                                     const storage::rate_limit& limit, storage::change_set&) override {
    if (auto ok = check(key, now_ms, limit); !ok) return ok.error();
    if (amount < 0) return make_error(error_kind::invalid_input, "amount must not be negative");
    std::lock_guard lock(mutex_);
    auto [it, inserted] = windows_.try_emplace(std::string(key), storage::rate_window::empty(limit, now_ms));
    it->second.adapt(limit, now_ms);
    it->second.add(amount, now_ms);
    return it->second.measure(limit, now_ms);
  }

 private:
  static result<void> check(std::string_view key, std::int64_t now_ms, const storage::rate_limit& limit) {
    if (key.empty() || key.size() > storage::max_rate_key) {
      return make_error(error_kind::invalid_input, "rate key out of range");
    }
    return storage::check_rate_arguments(limit, now_ms);
  }

  std::mutex mutex_;
  std::map<std::string, storage::rate_window, std::less<>> windows_;
};

}  // namespace callsign::test
