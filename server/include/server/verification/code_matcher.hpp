// The one place a typed code is compared with TOTP codes: phone tokens (under each master key
// version), authenticator apps at verify, and a pending authenticator at enrollment confirm.
// Every candidate is computed and compared (CRYPTO_memcmp) without stopping early, so the work
// does not reveal which candidate matched; expected codes and secrets are wiped.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/hmac_key.hpp"
#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "crypto/totp.hpp"

namespace callsign::server {

// The matcher's work, counted for tests that check an answer costs the same whoever asks.
// Thread-safety: atomics; share one freely.
struct match_work {
  std::atomic<std::uint64_t> keys{0};        // code keys derived or opened
  std::atomic<std::uint64_t> candidates{0};  // expected codes computed and compared
};

// Steps `behind` before `current` (never below step 0) through `ahead` after, ascending.
std::vector<std::uint64_t> candidate_steps(std::uint64_t current, int behind, int ahead);

// For each of `steps`, whether `code` equals the key's code at that step.
std::vector<bool> compare_code(const crypto::hmac_key& key, const crypto::totp_params& params,
                               std::span<const std::uint64_t> steps, std::string_view code, match_work* work = nullptr);

// The earliest of `steps` whose code equals `code`, having compared all of them.
std::optional<std::uint64_t> first_matching_step(const crypto::hmac_key& key, const crypto::totp_params& params,
                                                 std::span<const std::uint64_t> steps, std::string_view code,
                                                 match_work* work = nullptr);

// The phone-token key of `user_id` under `master` (crypto/key_derivation.hpp).
result<crypto::hmac_key> phone_token_key(const crypto::master_key& master, std::string_view user_id,
                                         const crypto::totp_params& params, match_work* work = nullptr);

// The key of an authenticator secret sealed for `user_id`; `unopenable` is the internal
// error's message when the blob cannot be opened (it names no secret).
result<crypto::hmac_key> sealed_secret_key(const crypto::key_ring& keys, std::string_view sealed,
                                           std::string_view user_id, const crypto::totp_params& params,
                                           std::string_view unopenable, match_work* work = nullptr);

}  // namespace callsign::server
