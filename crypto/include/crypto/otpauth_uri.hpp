// otpauth:// URIs for enrolling authenticator apps (Google Authenticator "Key Uri Format").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/hash_algorithm.hpp"
#include "crypto/result.hpp"

namespace callsign::crypto {

struct otpauth_params {
  std::string issuer;  // may be empty: then the label is the account alone
  std::string account;
  std::vector<std::uint8_t> secret;  // raw bytes; base32 in the URI. Caller wipes it.
  hash_algorithm algorithm = hash_algorithm::sha1;
  int digits = 6;
  std::int64_t period = 30;
};

// otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&period=30
// Issuer and account are percent-encoded (RFC 3986: everything but unreserved characters),
// so a ':' inside either of them cannot be confused with the label separator. For valid
// params (digits 6..8, period 1..86400, non-empty secret and account) parsing the result
// gives back the same fields, except that control characters are rejected and spaces at
// the start of an account may be dropped (the format reads them as padding).
std::string make_otpauth_uri(const otpauth_params& params);

inline constexpr std::size_t max_otpauth_uri_length = 4096;

// Inverse of make_otpauth_uri, tolerant of other generators: scheme and type in any case,
// an encoded ("%3A") label separator, spaces before the account, absent optional parameters
// (SHA1, 6 digits, 30 s), unknown parameters (e.g. "image"). Rejects non-totp types, raw
// characters outside printable ASCII, bad %XX escapes, control characters in names, a
// missing or undecodable secret, repeated parameters, an issuer parameter that contradicts
// the label, and URIs longer than max_otpauth_uri_length. Safe on arbitrary bytes.
result<otpauth_params> parse_otpauth_uri(std::string_view uri);

}  // namespace callsign::crypto
