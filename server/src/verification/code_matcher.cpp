#include "server/verification/code_matcher.hpp"

#include <string>

#include "crypto/constant_time.hpp"
#include "crypto/key_derivation.hpp"
#include "crypto/sealed_box.hpp"

namespace callsign::server {

namespace {
void count(std::atomic<std::uint64_t>* counter, std::uint64_t n) {
  if (counter != nullptr) counter->fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

std::vector<std::uint64_t> candidate_steps(std::uint64_t current, int behind, int ahead) {
  std::vector<std::uint64_t> steps;
  for (int i = behind; i > 0; --i) {
    if (current >= static_cast<std::uint64_t>(i)) steps.push_back(current - static_cast<std::uint64_t>(i));
  }
  for (int i = 0; i <= ahead; ++i) steps.push_back(current + static_cast<std::uint64_t>(i));
  return steps;
}

std::vector<bool> compare_code(const crypto::hmac_key& key, const crypto::totp_params& params,
                               std::span<const std::uint64_t> steps, std::string_view code, match_work* work) {
  std::vector<bool> equal;
  equal.reserve(steps.size());
  for (const auto step : steps) {
    std::string expected = crypto::totp_code_at_step(key, params, step);
    equal.push_back(crypto::constant_time_equal(std::string_view(expected), code));
    crypto::secure_wipe(expected);
  }
  count(work != nullptr ? &work->candidates : nullptr, steps.size());
  return equal;
}

std::optional<std::uint64_t> first_matching_step(const crypto::hmac_key& key, const crypto::totp_params& params,
                                                 std::span<const std::uint64_t> steps, std::string_view code,
                                                 match_work* work) {
  const auto equal = compare_code(key, params, steps, code, work);
  std::optional<std::uint64_t> found;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (equal[i] && !found) found = steps[i];
  }
  return found;
}

result<crypto::hmac_key> phone_token_key(const crypto::master_key& master, std::string_view user_id,
                                         const crypto::totp_params& params, match_work* work) {
  crypto::derived_key secret = crypto::phone_token_secret(master, user_id);
  auto key = crypto::hmac_key::create(params.algorithm, secret);
  crypto::secure_wipe(secret);
  count(work != nullptr ? &work->keys : nullptr, 1);
  return key;
}

result<crypto::hmac_key> sealed_secret_key(const crypto::key_ring& keys, std::string_view sealed,
                                           std::string_view user_id, const crypto::totp_params& params,
                                           std::string_view unopenable, match_work* work) {
  auto secret = crypto::open_with_ring(keys, sealed, user_id);
  if (!secret) {
    return make_error(error_kind::internal, std::string(unopenable));
  }
  auto key = crypto::hmac_key::create(params.algorithm, *secret);
  crypto::secure_wipe(std::span<std::uint8_t>(*secret));
  count(work != nullptr ? &work->keys : nullptr, 1);
  return key;
}

}  // namespace callsign::server
