// The failed-login counts a login rule reads (rate.login_failures.ip / .username, docs/rules.md),
// as ONE read-only backend operation per request: given now and a few (counter key, limit) pairs,
// the current count of each, measured as the failures were counted (login_attempts.hpp). The
// embedded backend answers inline from its rate counters (embedded_login_counts.hpp); the shared
// one with one read-only Redis Function call (shared_state/redis_login_counts.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "storage/completion.hpp"
#include "storage/rate_window.hpp"

namespace callsign::storage {

// One count to read: a login rule's counter key (state_key(), 1..max_rate_key bytes) and the
// limit and window it is counted under.
struct count_read {
  std::string key;
  rate_limit limit;
};

// Thread-safety: any thread, concurrently.
class login_counts {
 public:
  virtual ~login_counts() = default;

  // counts[i] becomes the count of keys[i] at now_ms against its limit, as
  // rate_counters::estimate measures it (a key never counted: 0; a stored history of another
  // window or kind is measured on an adapted copy). Changes nothing. `done` is called once, with
  // an error or success; on success every count is set. `keys` and `counts` (of one size) stay
  // alive, and untouched by the caller, until then.
  virtual void read(std::int64_t now_ms, std::span<const count_read> keys, std::span<double> counts,
                    completion<void> done) = 0;

  // The same answer at once when the backend has it without waiting (the embedded backend, from
  // memory): the hot path of a single node, with no completion to build. nullopt when the answer
  // needs a round trip (nothing was read): call read().
  virtual std::optional<result<void>> read_inline(std::int64_t now_ms, std::span<const count_read> keys,
                                                  std::span<double> counts) = 0;

 protected:
  login_counts() = default;
  login_counts(const login_counts&) = default;
  login_counts& operator=(const login_counts&) = default;
};

}  // namespace callsign::storage
