#include "crypto/totp.hpp"

#include "crypto/hotp.hpp"

namespace callsign::crypto {

result<void> totp_params::validate() const {
  if (!is_valid(algorithm)) {
    return make_error(error_kind::invalid_input, "totp algorithm must be SHA1, SHA256 or SHA512");
  }
  if (digits < min_code_digits || digits > max_code_digits) {
    return make_error(error_kind::invalid_input, "totp digits must be between 6 and 8");
  }
  if (period < 1) {
    return make_error(error_kind::invalid_input, "totp period must be at least 1 second");
  }
  return {};
}

std::uint64_t totp_step(const totp_params& params, std::int64_t unix_time) noexcept {
  if (unix_time < params.t0) return 0;
  // The true difference lies in [0, 2^64), so unsigned wrap-around yields it exactly even
  // when the signed subtraction would overflow.
  const std::uint64_t elapsed = static_cast<std::uint64_t>(unix_time) - static_cast<std::uint64_t>(params.t0);
  const std::uint64_t period = params.period < 1 ? 1 : static_cast<std::uint64_t>(params.period);
  return elapsed / period;
}

std::string totp_code_at_step(const hmac_key& key, const totp_params& params, std::uint64_t step) {
  return hotp_code(key, step, params.digits);
}

std::string totp_code(const hmac_key& key, const totp_params& params, std::int64_t unix_time) {
  return totp_code_at_step(key, params, totp_step(params, unix_time));
}

}  // namespace callsign::crypto
