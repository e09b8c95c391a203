#include "storage/embedded_attempts.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include "storage/read_policy.hpp"

namespace callsign::storage {

class embedded_attempts::key_locks {
 public:
  key_locks(std::array<std::mutex, lock_stripes>& stripes, const std::vector<std::string_view>& keys) {
    indices_.reserve(keys.size());
    for (auto key : keys) indices_.push_back(std::hash<std::string_view>{}(key) % lock_stripes);
    std::sort(indices_.begin(), indices_.end());
    indices_.erase(std::unique(indices_.begin(), indices_.end()), indices_.end());
    // One global order (ascending stripe index), so two attempts never wait on each other in a cycle.
    for (auto index : indices_) stripes[index].lock();
    stripes_ = &stripes;
  }
  ~key_locks() {
    for (auto it = indices_.rbegin(); it != indices_.rend(); ++it) (*stripes_)[*it].unlock();
  }
  key_locks(const key_locks&) = delete;
  key_locks& operator=(const key_locks&) = delete;

 private:
  std::vector<std::size_t> indices_;
  std::array<std::mutex, lock_stripes>* stripes_ = nullptr;
};

namespace {
// The replay mark's lock key, apart from every counter key (state_key never starts with NUL).
std::string claim_lock_key(const step_claim& claim) {
  std::string key(1, '\0');
  key.append(claim.user).push_back('\0');
  key.append(claim.method);
  return key;
}

bool would_block(const error& e) noexcept { return e.kind == error_kind::would_block; }
}  // namespace

embedded_attempts::embedded_attempts(replay_marks& marks, rate_counters& counters, blocks& blocks,
                                     blocking_executor blocking_work)
    : marks_(marks), counters_(counters), blocks_(blocks), blocking_work_(std::move(blocking_work)) {}

std::size_t embedded_attempts::moved_to_blocking_work() const noexcept {
  return moved_.load(std::memory_order_relaxed);
}

template <class Result, class Run>
void embedded_attempts::run(Run run_locked, completion<Result> done) {
  result<Result> first = make_error(error_kind::would_block, "");
  {
    nonblocking_reads memory_only;
    first = run_locked();
  }
  if (first || !would_block(first.error()) || !blocking_work_) {
    if (!first && would_block(first.error())) {
      // No pool to move to: wait for the disk here.
      blocking_reads_allowed may_wait;
      first = run_locked();
    }
    done(std::move(first));
    return;
  }
  // Nothing was changed: the same attempt runs again where the disk may be read.
  moved_.fetch_add(1, std::memory_order_relaxed);
  blocking_work_([run_locked = std::move(run_locked), done = std::move(done)]() mutable {
    blocking_reads_allowed may_wait;
    done(run_locked());
  });
}

void embedded_attempts::settle(const code_attempt& attempt, change_set& changes,
                               completion<code_attempt_result> done) {
  run<code_attempt_result>([this, &attempt, &changes] { return settle_locked(attempt, changes); }, std::move(done));
}

void embedded_attempts::record(const login_attempt& attempt, change_set& changes,
                               completion<login_attempt_result> done) {
  run<login_attempt_result>([this, &attempt, &changes] { return record_locked(attempt, changes); }, std::move(done));
}

result<code_attempt_result> embedded_attempts::settle_locked(const code_attempt& attempt, change_set& changes) {
  std::vector<std::string_view> keys;
  for (const auto& failure : attempt.failures) keys.push_back(failure.key);
  std::string claim_key;
  if (attempt.claim) {
    claim_key = claim_lock_key(*attempt.claim);
    keys.push_back(claim_key);
  }
  key_locks held(stripes_, keys);

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

result<login_attempt_result> embedded_attempts::record_locked(const login_attempt& attempt, change_set& changes) {
  std::vector<std::string_view> keys;
  if (attempt.failure) {
    for (const auto& rule : attempt.rules) {
      keys.push_back(rule.counter_key);
      keys.push_back(rule.block_key);
      if (rule.previous_counter_key) keys.push_back(*rule.previous_counter_key);
      if (rule.previous_block_key) keys.push_back(*rule.previous_block_key);
    }
  }
  key_locks held(stripes_, keys);

  login_attempt_result out;
  if (attempt.failure) {
    // Read every count first, changing nothing, so a key only on disk moves the whole attempt
    // to the blocking pool before anything has changed.
    for (const auto& rule : attempt.rules) {
      auto current = counters_.estimate(rule.counter_key, attempt.now_ms, rule.limit);
      if (!current) return current.error();
      if (rule.previous_counter_key) {
        auto previous = counters_.estimate(*rule.previous_counter_key, attempt.now_ms, rule.limit);
        if (!previous) return previous.error();
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
