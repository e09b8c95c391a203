// Agent verification of a code read out on the phone: plain functions in storage/crypto terms.
// verify_code decides and stages everything (replay mark, failure counts, audit entry) into one
// change_set; the caller commits it through the group-commit writer before replying.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "server/config/config.hpp"
#include "server/verification/code_matcher.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/change_set.hpp"
#include "storage/code_attempts.hpp"
#include "storage/completion.hpp"
#include "storage/user_directory.hpp"

namespace callsign::server {

inline constexpr std::string_view method_phone_token = "phone_token";
inline constexpr std::string_view method_authenticator = "authenticator";

struct verify_request {
  std::optional<std::string> user_id;
  std::optional<std::string> email;  // normalized
  std::string code;
  std::optional<std::string> ticket;
  std::optional<std::string> reason;
  std::string agent_id;
  std::string source_ip;
  std::string request_id;
};

struct verify_outcome {
  bool valid = false;
  std::optional<std::string> method;  // phone_token | authenticator when valid
  std::optional<std::string> user;    // resolved or given user id
  bool throttled = false;
  bool replayed = false;  // a right code whose step was already used (for verify_metrics)
  std::int64_t retry_after_seconds = 0;
  // The attempt could not be settled (the state backend failed: Redis away, a missed WAIT, a
  // disk error). The journal still gets the attempt's entry, outcome "failed", and the reply is
  // this error once that entry is durable: a code a shared backend may already have burnt
  // leaves a trace.
  std::optional<error> failure;
};

// Thread-safety: holds references to thread-safe backends; usable from any thread.
struct verification_context {
  const crypto::key_ring& keys;
  const server_config& config;
  storage::user_directory& users;
  storage::authenticator_directory& authenticators;
  storage::code_attempts& attempts;
  match_work* work = nullptr;  // tests count the matcher's work; null in the server
};

// Whether phone tokens of ring.previous() still verify at `now` (unix seconds): until
// `overlap_seconds` after ring.current().created_at. False with one key, or when the current
// version's creation time is unknown (0). verify computes the previous version's tokens
// whenever the ring has one, so this only decides whether such a match counts.
bool previous_phone_token_key_accepted(const crypto::key_ring& ring, std::int64_t overlap_seconds,
                                       std::int64_t now) noexcept;

// A code is 6-8 ASCII digits of the configured length; anything else is invalid input.
result<void> check_code_format(std::string_view code, int digits);

// Looks the user up, matches the code against every candidate step (plain C++, code_matcher),
// then settles the attempt with ONE backend operation (storage/code_attempts.hpp: throttles,
// the replay mark and the failure counts, atomically), and stages its audit entry into
// `changes`. `done` is called exactly once, inline or on a backend's thread; the caller keeps
// `request` and `changes` alive until then.
void verify_code(const verification_context& ctx, const verify_request& request, std::int64_t now_ms,
                 storage::change_set& changes, storage::completion<verify_outcome> done);

// Failure-count keys used by verify (and confirm): per user, per agent, per source IP.
std::string verify_user_key(std::string_view user);
std::string verify_agent_key(std::string_view agent);
std::string verify_ip_key(std::string_view ip);

}  // namespace callsign::server
