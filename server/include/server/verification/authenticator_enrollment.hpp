// Authenticator-app enrollment for customers, in storage/crypto terms: start (or restart) an
// enrollment, confirm it with a code, remove it. Each function reads the enrollment through
// storage::authenticator_directory, decides, stages its counts, replay mark and audit entry into
// the caller's change_set and answers with the record to write, if any, and the version it read:
// the caller writes it with authenticator_directory::put (the change set as `extra`), so a
// change that raced another one for the same user is a conflict, never a lost update. Without
// a record to write, the caller commits the change set alone. No lock, no waiting thread.
// Secrets are stored only sealed (AES-256-GCM, associated data = user id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "server/config/config.hpp"
#include "server/verification/code_matcher.hpp"
#include "storage/audit_entry.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/code_attempts.hpp"
#include "storage/completion.hpp"
#include "storage/user_store.hpp"

namespace callsign::server {

// Thread-safety: holds references to thread-safe backends; usable from any thread.
struct enrollment_context {
  const crypto::key_ring& keys;
  const server_config& config;
  const storage::clock& clock;
  storage::authenticator_directory& authenticators;
  storage::code_attempts& attempts;
  match_work* work = nullptr;  // tests count the matcher's work; null in the server
};

// The record a decision writes, conditional on the version it was decided from.
struct enrollment_write {
  storage::authenticator_record record;  // empty: the enrollment is removed
  std::uint64_t expected_version = 0;
};

struct enrollment_started {
  std::string otpauth_uri;  // secret material: the caller wipes both after replying
  std::string secret_base32;
  enrollment_write write;  // with the new pending secret (an active one stays until confirm)
};

// A fresh random secret becomes `user`'s pending one. `audit` arrives with actor, action and
// subject filled in; its outcome is "pending". `changes` must live until `done`.
void start_enrollment(const enrollment_context& ctx, const storage::user_record& user, storage::audit_draft audit,
                      storage::change_set& changes, storage::completion<enrollment_started> done);

enum class confirm_status { throttled, invalid, active, failed };

struct confirm_outcome {
  confirm_status status = confirm_status::invalid;
  std::int64_t retry_after_seconds = 0;  // throttled
  std::optional<enrollment_write> write;  // active: the activated record
  std::optional<error> failure;           // failed: what the caller answers once the entry is committed
};

// Checks `code` (already of the configured format) against the pending secret, then settles it
// as one code attempt (storage/code_attempts.hpp): at the verify limit of wrong codes per user
// and window the answer is throttled and audited "throttled"; a wrong code is counted and audited
// "invalid"; a right one uses up its step (the authenticator method's replay mark: a step an
// earlier authenticator used stays used, and the code is then used up all the same), activates
// the secret and is audited "active". When the backend cannot read the enrollment or settle the
// attempt, the answer is `failed` with the error and the attempt is audited "failed"
// (storage::mark_failed_attempt): the caller commits the change set, then answers the error.
// error_kind::conflict when no enrollment is pending (nothing staged).
void confirm_enrollment(const enrollment_context& ctx, std::string_view user_id, std::string_view code,
                        storage::audit_draft audit, storage::change_set& changes,
                        storage::completion<confirm_outcome> done);

// Drops the active and pending secrets (error_kind::not_found when there are none). The replay
// marks stay: a later authenticator cannot reuse a step this one used.
void remove_enrollment(const enrollment_context& ctx, std::string_view user_id, storage::audit_draft audit,
                       storage::change_set& changes, storage::completion<enrollment_write> done);

// The failure-count key of confirm (per user, limit verify.user_failures).
std::string confirm_user_key(std::string_view user);

}  // namespace callsign::server
