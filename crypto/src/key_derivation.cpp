#include "crypto/key_derivation.hpp"

#include <algorithm>
#include <new>

#include "crypto/constant_time.hpp"
#include "crypto/hmac_key.hpp"

namespace callsign::crypto {
namespace {

std::span<const std::uint8_t> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// create() only fails for an out-of-range algorithm (validate() excludes it) or when
// OpenSSL cannot allocate; both are treated like allocation failure rather than returning
// a predictable key.
hmac_key create_or_throw(hash_algorithm algorithm, std::span<const std::uint8_t> key) {
  auto created = hmac_key::create(algorithm, key);
  if (!created) throw std::bad_alloc();
  return std::move(created).value();
}

}  // namespace

derived_key derive_key(const master_key& master, std::string_view label, std::span<const std::uint8_t> context) {
  const hmac_key key = create_or_throw(hash_algorithm::sha256, master.bytes);
  constexpr std::uint8_t separator = 0x00;
  const hmac_digest digest = key.sign({as_bytes(label), {&separator, 1}, context});
  derived_key out{};
  std::copy_n(digest.bytes.begin(), out.size(), out.begin());
  return out;
}

derived_key phone_token_secret(const master_key& master, std::string_view user_id) {
  return derive_key(master, phone_token_label, as_bytes(user_id));
}

std::string phone_token_at_step(const master_key& master, std::string_view user_id, const totp_params& params,
                                std::uint64_t step) {
  derived_key secret = phone_token_secret(master, user_id);
  const hmac_key key = create_or_throw(params.algorithm, secret);
  secure_wipe(secret);
  return totp_code_at_step(key, params, step);
}

std::vector<std::string> phone_tokens_at_steps(const master_key& master, std::string_view user_id,
                                               const totp_params& params, std::span<const std::uint64_t> steps) {
  derived_key secret = phone_token_secret(master, user_id);
  const hmac_key key = create_or_throw(params.algorithm, secret);
  secure_wipe(secret);
  std::vector<std::string> codes;
  codes.reserve(steps.size());
  for (const auto step : steps) codes.push_back(totp_code_at_step(key, params, step));
  return codes;
}

std::string phone_token(const master_key& master, std::string_view user_id, const totp_params& params,
                        std::int64_t unix_time) {
  return phone_token_at_step(master, user_id, params, totp_step(params, unix_time));
}

}  // namespace callsign::crypto
