// Per-purpose keys derived from a master key, so one master secret never keys two uses.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.hpp"
#include "crypto/totp.hpp"

namespace callsign::crypto {

using derived_key = std::array<std::uint8_t, 32>;

// HMAC-SHA256(master.bytes, label || 0x00 || context). The 0x00 keeps label and context
// apart; labels must not contain NUL. Throws std::bad_alloc only if OpenSSL cannot allocate.
derived_key derive_key(const master_key& master, std::string_view label, std::span<const std::uint8_t> context);

inline constexpr std::string_view phone_token_label = "callsign phone-token";

// secret_v(user) = HMAC-SHA256(master_v, "callsign phone-token" || 0x00 || user_id_utf8).
// Nothing per user is stored: the server recomputes it from the key ring. Caller wipes it.
derived_key phone_token_secret(const master_key& master, std::string_view user_id);

// RFC 6238 TOTP over phone_token_secret(master, user_id). `params` must pass validate().
std::string phone_token(const master_key& master, std::string_view user_id, const totp_params& params,
                        std::int64_t unix_time);
std::string phone_token_at_step(const master_key& master, std::string_view user_id, const totp_params& params,
                                std::uint64_t step);
// The phone tokens of several steps (one per entry of `steps`, in order), deriving the user's
// secret once. Callers wipe the returned codes.
std::vector<std::string> phone_tokens_at_steps(const master_key& master, std::string_view user_id,
                                               const totp_params& params, std::span<const std::uint64_t> steps);

}  // namespace callsign::crypto
