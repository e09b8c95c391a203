// parse_otpauth_uri on arbitrary bytes (first byte even), and make/parse round trips of
// params drawn from the input (first byte odd).
// Invariants: an accepted URI yields params inside the documented bounds, and writing those
// params back out parses to the same params; valid params survive make -> parse, except
// names holding control characters, which are refused.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/otpauth_uri.hpp"
#include "fuzz/fuzz_check.hpp"

using namespace callsign;

namespace {
bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// The format reads spaces before the account as padding after "Issuer:".
std::string_view without_leading_spaces(std::string_view text) {
  const auto first = text.find_first_not_of(' ');
  return first == std::string_view::npos ? std::string_view() : text.substr(first);
}

void check_bounds(const crypto::otpauth_params& p) {
  FUZZ_CHECK(p.digits >= 6 && p.digits <= 8);
  FUZZ_CHECK(p.period >= 1 && p.period <= 86400);
  FUZZ_CHECK(!p.secret.empty());
  FUZZ_CHECK(!p.account.empty());
  FUZZ_CHECK(!has_control(p.account) && !has_control(p.issuer));
  FUZZ_CHECK(crypto::is_valid(p.algorithm));
}

void check_same(const crypto::otpauth_params& a, const crypto::otpauth_params& b) {
  FUZZ_CHECK(a.issuer == b.issuer);
  FUZZ_CHECK(without_leading_spaces(a.account) == without_leading_spaces(b.account));
  FUZZ_CHECK(a.secret == b.secret);
  FUZZ_CHECK(a.algorithm == b.algorithm);
  FUZZ_CHECK(a.digits == b.digits);
  FUZZ_CHECK(a.period == b.period);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1U) == 0) {
    const std::string_view uri(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto parsed = crypto::parse_otpauth_uri(uri);
    if (!parsed) {
      FUZZ_CHECK(parsed.error().kind == error_kind::invalid_input);
      return 0;
    }
    check_bounds(*parsed);
    FUZZ_CHECK(uri.size() <= crypto::max_otpauth_uri_length);
    const auto again = crypto::parse_otpauth_uri(crypto::make_otpauth_uri(*parsed));
    FUZZ_CHECK(again.has_value());
    check_same(*parsed, *again);
    return 0;
  }

  FuzzedDataProvider in(data + 1, size - 1);
  crypto::otpauth_params params;
  params.digits = in.ConsumeIntegralInRange(6, 8);
  params.period = in.ConsumeIntegralInRange<std::int64_t>(1, 86400);
  params.algorithm = in.PickValueInArray(
      {crypto::hash_algorithm::sha1, crypto::hash_algorithm::sha256, crypto::hash_algorithm::sha512});
  params.issuer = in.ConsumeRandomLengthString(200);
  params.account = in.ConsumeRandomLengthString(200);
  const auto secret = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(1, 128));
  params.secret = secret;
  if (params.secret.empty() || without_leading_spaces(params.account).empty()) return 0;

  const std::string uri = crypto::make_otpauth_uri(params);
  const auto parsed = crypto::parse_otpauth_uri(uri);
  if (has_control(params.issuer) || has_control(params.account) || uri.size() > crypto::max_otpauth_uri_length) {
    FUZZ_CHECK(!parsed.has_value());
    return 0;
  }
  FUZZ_CHECK(parsed.has_value());
  check_bounds(*parsed);
  check_same(params, *parsed);
  return 0;
}
