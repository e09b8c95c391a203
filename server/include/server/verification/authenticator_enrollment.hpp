// Authenticator-app enrollment for customers, in storage/crypto terms: start (or restart) an
// enrollment, confirm it with a code, remove it. Each function decides and stages the record,
// counters, replay mark and audit entry into one change_set; the caller commits it (today the
// routes commit and wait under app_context::account_mutex, which serializes changes per user)
// and only then replies. Secrets are stored only sealed (AES-256-GCM, associated data = user id).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "server/config.hpp"
#include "server/verification/code_matcher.hpp"
#include "storage/audit_entry.hpp"
#include "storage/authenticator_store.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/rate_counters.hpp"
#include "storage/replay_marks.hpp"
#include "storage/user_store.hpp"

namespace callsign::server {

// Thread-safety: holds references to thread-safe stores; calls for one user must be
// serialized by the caller from the read of the record until its change set is committed.
struct enrollment_context {
  const crypto::key_ring& keys;
  const server_config& config;
  const storage::clock& clock;
  const storage::authenticator_store& authenticators;
  storage::replay_marks& marks;
  storage::rate_counters& counters;
  match_work* work = nullptr;  // tests count the matcher's work; null in the server
};

struct enrollment_started {
  std::string otpauth_uri;  // secret material: the caller wipes both after replying
  std::string secret_base32;
  storage::authenticator_record record;  // as staged, with the new pending secret
};

// A fresh random secret becomes `user`'s pending one (an active one stays until confirm).
// `audit` arrives with actor, action and subject filled in; its outcome is "pending".
result<enrollment_started> start_enrollment(const enrollment_context& ctx, const storage::user_record& user,
                                            storage::audit_draft audit, storage::change_set& changes);

enum class confirm_status { throttled, invalid, active };

struct confirm_outcome {
  confirm_status status = confirm_status::invalid;
  std::int64_t retry_after_seconds = 0;  // throttled: nothing is staged
  storage::authenticator_record record;  // active: as staged
};

// Checks `code` (already of the configured format) against the pending secret: at the
// verify limit of wrong codes per user and window the answer is throttled; a wrong code is
// counted and audited "invalid"; a right one uses up its step (replay mark of the
// authenticator method), activates the secret and is audited "active". error_kind::conflict
// when no enrollment is pending.
result<confirm_outcome> confirm_enrollment(const enrollment_context& ctx, std::string_view user_id,
                                           std::string_view code, storage::audit_draft audit,
                                           storage::change_set& changes);

// Drops the active and pending secrets (error_kind::not_found when there are none). The replay
// marks stay: a later authenticator cannot reuse a step this one used.
result<void> remove_enrollment(const enrollment_context& ctx, std::string_view user_id, storage::audit_draft audit,
                               storage::change_set& changes);

// The failure-count key of confirm (per user, limit verify.user_failures).
std::string confirm_user_key(std::string_view user);

}  // namespace callsign::server
