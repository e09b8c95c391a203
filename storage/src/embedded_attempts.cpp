#include "storage/embedded_attempts.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "storage/read_policy.hpp"

namespace callsign::storage {

namespace detail {

// What both embedded attempt backends share: the key stripes that make an attempt atomic, and
// the move of an attempt that would wait for the disk to the blocking pool.
class attempt_runner {
 public:
  static constexpr std::size_t stripes = 4096;

  explicit attempt_runner(blocking_executor blocking_work) : blocking_work_(std::move(blocking_work)) {}

  // Holds the stripes of `keys` (deduplicated, ascending) until destroyed.
  class key_locks {
   public:
    key_locks(attempt_runner& runner, const std::vector<std::string_view>& keys) : runner_(runner) {
      indices_.reserve(keys.size());
      for (auto key : keys) indices_.push_back(std::hash<std::string_view>{}(key) % stripes);
      std::sort(indices_.begin(), indices_.end());
      indices_.erase(std::unique(indices_.begin(), indices_.end()), indices_.end());
      // One global order (ascending stripe index): two attempts never wait on each other in a cycle.
      for (auto index : indices_) runner_.stripes_[index].lock();
    }
    ~key_locks() {
      for (auto it = indices_.rbegin(); it != indices_.rend(); ++it) runner_.stripes_[*it].unlock();
    }
    key_locks(const key_locks&) = delete;
    key_locks& operator=(const key_locks&) = delete;

   private:
    attempt_runner& runner_;
    std::vector<std::size_t> indices_;
  };

  // Runs `run_locked` from memory only; if it answers would_block (having changed nothing),
  // runs it again on the blocking pool (or here, waiting, without one). Calls done once.
  template <class Result, class Run>
  void run(Run run_locked, completion<Result> done) {
    result<Result> first = make_error(error_kind::would_block, "");
    {
      nonblocking_reads memory_only;
      first = run_locked();
    }
    if (first || first.error().kind != error_kind::would_block) {
      done(std::move(first));
      return;
    }
    moved_.fetch_add(1, std::memory_order_relaxed);
    if (!blocking_work_) {
      blocking_reads_allowed may_wait;
      done(run_locked());
      return;
    }
    blocking_work_([run_locked = std::move(run_locked), done = std::move(done)]() mutable {
      blocking_reads_allowed may_wait;
      done(run_locked());
    });
  }

  std::size_t moved() const noexcept { return moved_.load(std::memory_order_relaxed); }

 private:
  blocking_executor blocking_work_;
  std::array<std::mutex, stripes> stripes_;
  std::atomic<std::size_t> moved_{0};
};

}  // namespace detail

namespace {
// The replay mark's lock key, apart from every counter key (state_key never starts with NUL).
std::string claim_lock_key(const step_claim& claim) {
  std::string key(1, '\0');
  key.append(claim.user).push_back('\0');
  key.append(claim.method);
  return key;
}
}  // namespace

embedded_code_attempts::embedded_code_attempts(replay_marks& marks, rate_counters& counters,
                                               blocking_executor blocking_work)
    : marks_(marks), counters_(counters), runner_(std::make_unique<detail::attempt_runner>(std::move(blocking_work))) {}

embedded_code_attempts::~embedded_code_attempts() = default;

std::size_t embedded_code_attempts::moved_to_blocking_work() const noexcept { return runner_->moved(); }

void embedded_code_attempts::settle(const code_attempt& attempt, change_set& changes,
                                    completion<code_attempt_result> done) {
  runner_->run<code_attempt_result>([this, &attempt, &changes] { return settle_locked(attempt, changes); },
                                    std::move(done));
}

embedded_login_attempts::embedded_login_attempts(rate_counters& counters, blocks& blocks,
                                                 blocking_executor blocking_work)
    : counters_(counters),
      blocks_(blocks),
      runner_(std::make_unique<detail::attempt_runner>(std::move(blocking_work))) {}

embedded_login_attempts::~embedded_login_attempts() = default;

std::size_t embedded_login_attempts::moved_to_blocking_work() const noexcept { return runner_->moved(); }

void embedded_login_attempts::record(const login_attempt& attempt, change_set& changes,
                                     completion<login_attempt_result> done) {
  runner_->run<login_attempt_result>([this, &attempt, &changes] { return record_locked(attempt, changes); },
                                     std::move(done));
}

result<code_attempt_result> embedded_code_attempts::settle_locked(const code_attempt& attempt, change_set& changes) {
  std::vector<std::string_view> keys;
  for (const auto& failure : attempt.failures) keys.push_back(failure.key);
  std::string claim_key;
  if (attempt.claim) {
    claim_key = claim_lock_key(*attempt.claim);
    keys.push_back(claim_key);
  }
  detail::attempt_runner::key_locks held(*runner_, keys);

  code_attempt_result out;
  for (const auto& failure : attempt.failures) {
    auto estimate = counters_.estimate(failure.key, attempt.now_ms, failure.limit);
    if (!estimate) return estimate.error();
    if (over_limit(*estimate)) {
      out.throttled = true;
      out.retry_after_seconds = std::max(out.retry_after_seconds, retry_after_seconds(*estimate));
    }
  }
  if (out.throttled) return out;
  if (attempt.claim) {
    auto claimed = marks_.claim(attempt.claim->user, attempt.claim->method, attempt.claim->step, changes);
    if (!claimed) return claimed.error();  // would_block only before any change
    out.accepted = *claimed;
    out.replayed = !*claimed;
  }
  if (!out.accepted) {
    // From the first change on the attempt may not run again: the estimates above loaded every
    // key, so these adds wait for the disk only if a sweep dropped one meanwhile.
    blocking_reads_allowed may_wait;
    for (const auto& failure : attempt.failures) {
      auto added = counters_.add(failure.key, 1, attempt.now_ms, failure.limit, changes);
      if (!added) return added.error();
    }
  }
  return out;
}

result<login_attempt_result> embedded_login_attempts::record_locked(const login_attempt& attempt, change_set& changes) {
  std::vector<std::string_view> keys;
  if (attempt.failure) {
    for (const auto& rule : attempt.rules) {
      keys.push_back(rule.counter_key);
      keys.push_back(rule.block_key);
      if (rule.previous_counter_key) keys.push_back(*rule.previous_counter_key);
      if (rule.previous_block_key) keys.push_back(*rule.previous_block_key);
    }
  }
  detail::attempt_runner::key_locks held(*runner_, keys);

  login_attempt_result out;
  if (attempt.failure) {
    // Read every count first, changing nothing, so a key only on disk moves the whole attempt
    // to the blocking pool before anything has changed. So does a block this failure may set
    // whose record is only on disk: block() would otherwise read it holding the key locks.
    for (const auto& rule : attempt.rules) {
      auto current = counters_.estimate(rule.counter_key, attempt.now_ms, rule.limit);
      if (!current) return current.error();
      double failures = current->value + 1;
      if (rule.previous_counter_key) {
        auto previous = counters_.estimate(*rule.previous_counter_key, attempt.now_ms, rule.limit);
        if (!previous) return previous.error();
        failures += previous->value;
      }
      if (!rule.shadow && !(failures < static_cast<double>(rule.limit.limit))) {
        if (auto ready = blocks_.ready_to_block(rule.block_key, attempt.now_ms); !ready) return ready.error();
      }
    }
    blocking_reads_allowed may_wait;
    for (const auto& rule : attempt.rules) {
      auto added = counters_.add(rule.counter_key, 1, attempt.now_ms, rule.limit, changes);
      if (!added) return added.error();
      double failures = added->value;
      if (rule.previous_counter_key) {
        auto previous = counters_.estimate(*rule.previous_counter_key, attempt.now_ms, rule.limit);
        if (!previous) return previous.error();
        failures += previous->value;
      }
      const bool tripped = !(failures < static_cast<double>(rule.limit.limit));
      out.counts.push_back({failures, tripped});
      if (!tripped || rule.shadow) continue;
      auto existing = blocks_.find(rule.block_key, attempt.now_ms);
      if (!existing) return existing.error();
      if (existing->has_value()) continue;  // already blocked: the block is not extended
      if (rule.previous_block_key) {
        auto earlier = blocks_.find(*rule.previous_block_key, attempt.now_ms);
        if (!earlier) return earlier.error();
        if (earlier->has_value()) continue;  // blocked under the previous key: not extended either
      }
      auto set = blocks_.block(rule.block_key, rule.block_until_ms, rule.rule, attempt.now_ms, changes);
      if (!set) return set.error();
      if (set->started) out.started.push_back(std::move(set->entry));
    }
  }
  for (const auto& key : attempt.check_keys) {
    auto found = blocks_.find(key, attempt.now_ms);
    if (!found) return found.error();
    out.active.push_back(std::move(*found));
  }
  return out;
}

}  // namespace callsign::storage
