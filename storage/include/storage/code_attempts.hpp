// One typed code's whole effect on shared state, as ONE backend operation: an agent's verify
// and a customer's authenticator confirm each check the failure counts, claim the step their
// code matched (the replay mark) and count a failure when nothing was accepted, atomically.
// Matching a code to a step stays in plain C++ (server/verification/code_matcher): the backend
// is handed the step, never the code. A networked backend runs this as one atomic call (a Redis
// Function, issue 18); the embedded one answers inline (embedded_attempts.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/change_set.hpp"
#include "storage/completion.hpp"
#include "storage/rate_window.hpp"

namespace callsign::storage {

// A failure count the attempt is checked against and, when nothing is accepted, adds one to.
struct counted_failure {
  std::string key;  // from state_key(); 1..max_rate_key bytes
  rate_limit limit;
};

// The step a code matched, to be taken for (user, method).
struct step_claim {
  std::string user;    // 1..max_replay_mark_part bytes
  std::string method;  // 1..max_replay_mark_part bytes
  std::uint64_t step = 0;
  // When the step began (ms). A shared backend refuses a step that began at or before its
  // fence, the time of the last primary switch (docs/shared-state-redis.md); the embedded
  // backend has no fence and ignores it.
  std::optional<std::int64_t> step_start_ms{};
};

struct code_attempt {
  std::int64_t now_ms = 0;
  std::vector<counted_failure> failures;
  std::optional<step_claim> claim;  // none when the code matched nothing (or the user is unknown)
};

struct code_attempt_result {
  // Some count had already reached its limit: nothing was claimed and nothing was added.
  bool throttled = false;
  std::int64_t retry_after_seconds = 0;  // when throttled: the longest wait of the counts, >= 1
  bool accepted = false;  // the claim took its step: the code is used up from now on
  bool replayed = false;  // a claim was given, but its step (or a later one) was taken before
};

// Thread-safety: any thread, concurrently. Of any number of concurrent attempts claiming one
// step exactly one is accepted; counts are exact within their limits (rate_window.hpp), and no
// two concurrent attempts both pass a count that only one of them may pass.
class code_attempts {
 public:
  virtual ~code_attempts() = default;

  // In this order, as one atomic step: if any count has reached its limit, answer throttled;
  // else take the claim if there is one and its step is later than the last taken for
  // (user, method); if nothing was taken, add one to every count. What must be persisted goes
  // to `changes` before `done` is called (the caller commits it with its audit entry and keeps
  // it alive until then). An accepted claim counts from the moment it is made, even if the
  // caller then fails to commit: a burnt code is refused, never replayed.
  virtual void settle(const code_attempt& attempt, change_set& changes, completion<code_attempt_result> done) = 0;

 protected:
  code_attempts() = default;
  code_attempts(const code_attempts&) = default;
  code_attempts& operator=(const code_attempts&) = default;
};

}  // namespace callsign::storage
