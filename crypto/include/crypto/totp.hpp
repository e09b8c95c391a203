// TOTP, RFC 6238: HOTP over the number of time steps since T0.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/hash_algorithm.hpp"
#include "crypto/hmac_key.hpp"
#include "crypto/result.hpp"

namespace callsign::crypto {

struct totp_params {
  hash_algorithm algorithm = hash_algorithm::sha1;
  int digits = 6;
  std::int64_t period = 30;  // seconds per step (RFC 6238 "X")
  std::int64_t t0 = 0;       // Unix time at which step 0 starts

  // Checks algorithm, digits in [6, 8] and period >= 1; the message names the bad field.
  result<void> validate() const;
};

// floor((unix_time - t0) / period). Times before t0 map to step 0: the step counter is
// unsigned and a server never meets them unless t0 is misconfigured into the future.
// A period below 1 is treated as 1 (validate() rejects it) so this never divides by zero.
std::uint64_t totp_step(const totp_params& params, std::int64_t unix_time) noexcept;

// The key's own algorithm is used; params.algorithm is what the key should be created with.
std::string totp_code_at_step(const hmac_key& key, const totp_params& params, std::uint64_t step);
std::string totp_code(const hmac_key& key, const totp_params& params, std::int64_t unix_time);

}  // namespace callsign::crypto
