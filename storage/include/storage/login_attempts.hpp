// One reported login outcome's whole effect on shared state, as ONE backend operation
// (POST /v1/login/result): count the failure under every rule, block the keys whose rule
// tripped, and read back which of the attempt's keys are blocked. The rules themselves (which
// keys, which limits) are decided in plain C++ (server/login/login_limits.cpp); a networked
// backend runs this as one atomic call (issue 18), the embedded one answers inline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/blocks.hpp"
#include "storage/change_set.hpp"
#include "storage/completion.hpp"
#include "storage/rate_window.hpp"

namespace callsign::storage {

struct login_rule_step {
  std::string rule;         // the rule's name (goes into the block record)
  std::string counter_key;  // the rule's failure count for this attempt
  std::string block_key;    // what the rule blocks
  rate_limit limit;
  std::int64_t block_until_ms = 0;  // the end of a block set now
  bool shadow = false;              // counted and reported, never blocks
  // Across a master-key rotation: the same username's count and block under the previous
  // key. The previous count adds to this one; a block there also counts as blocked.
  std::optional<std::string> previous_counter_key;
  std::optional<std::string> previous_block_key;
};

struct login_attempt {
  std::int64_t now_ms = 0;
  bool failure = false;                // successes change nothing
  std::vector<login_rule_step> rules;  // used only for a failure
  std::vector<std::string> check_keys;  // the attempt's block keys, read back after the change
};

struct login_rule_count {
  double failures = 0;  // the rule's count including this failure (and the previous key's)
  bool tripped = false;  // the count reached the limit
};

struct login_attempt_result {
  std::vector<login_rule_count> counts;          // one per rule, for a failure
  std::vector<block_entry> started;              // blocks this failure set
  std::vector<std::optional<block_entry>> active;  // one per check key: its block, if any
};

// Thread-safety: any thread, concurrently. A block is started by exactly one of any number of
// concurrent failures that trip it, and counts never lose a failure.
class login_attempts {
 public:
  virtual ~login_attempts() = default;

  // For a failure, per rule in order: add one to its count (plus the previous key's count);
  // when the sum reaches the limit and the rule is not shadow, block block_key until
  // block_until_ms unless it (or previous_block_key) is already blocked. Then read the blocks of
  // check_keys. Persisted changes go to `changes` before `done` is called.
  virtual void record(const login_attempt& attempt, change_set& changes, completion<login_attempt_result> done) = 0;

 protected:
  login_attempts() = default;
  login_attempts(const login_attempts&) = default;
  login_attempts& operator=(const login_attempts&) = default;
};

}  // namespace callsign::storage
