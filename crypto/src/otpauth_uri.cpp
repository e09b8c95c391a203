#include "crypto/otpauth_uri.hpp"

#include <charconv>
#include <optional>

#include "crypto/base32.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hotp.hpp"
#include "crypto/percent_coding.hpp"

namespace callsign::crypto {
namespace {

constexpr std::string_view scheme = "otpauth://";

error malformed(std::string what) {
  return make_error(error_kind::invalid_input, "otpauth URI: " + std::move(what));
}

// '+' stays '+' in an otpauth URI; `offset` is where `text` starts in the whole URI, so the
// error names a position there.
result<std::string> decode_part(std::string_view text, std::size_t offset) {
  auto decoded = percent_decode(text, plus_sign::literal, offset);
  if (!decoded) return malformed(decoded.error().message);
  return decoded;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;  // prefix is lower case
  }
  return true;
}

bool has_control_character(std::string_view text) noexcept {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// Decimal without sign, within [min, max].
std::optional<std::int64_t> parse_bounded(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  if (text.empty() || text.front() == '-' || text.front() == '+') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

struct label_parts {
  std::optional<std::string> issuer;  // from "Issuer:" in the label
  std::string account;
};

// The first literal ':' separates issuer from account (make_otpauth_uri encodes any colon
// inside them); failing that, the first encoded one ("%3A"), which other generators emit.
result<label_parts> parse_label(std::string_view raw, std::size_t offset) {
  label_parts parts;
  bool has_separator = true;
  if (const auto colon = raw.find(':'); colon != std::string_view::npos) {
    auto issuer = decode_part(raw.substr(0, colon), offset);
    if (!issuer) return issuer.error();
    auto account = decode_part(raw.substr(colon + 1), offset + colon + 1);
    if (!account) return account.error();
    parts.issuer = std::move(*issuer);
    parts.account = std::move(*account);
  } else {
    auto decoded = decode_part(raw, offset);
    if (!decoded) return decoded.error();
    if (const auto encoded_colon = decoded->find(':'); encoded_colon != std::string::npos) {
      parts.issuer = decoded->substr(0, encoded_colon);
      parts.account = decoded->substr(encoded_colon + 1);
    } else {
      has_separator = false;
      parts.account = std::move(*decoded);
    }
  }
  if (parts.issuer && parts.issuer->empty()) parts.issuer.reset();
  // The format allows spaces between the separator and the account name.
  if (has_separator) parts.account.erase(0, parts.account.find_first_not_of(' '));
  if (parts.account.empty()) return malformed("the account name is empty");
  if (has_control_character(parts.account) || (parts.issuer && has_control_character(*parts.issuer))) {
    return malformed("the label contains control characters");
  }
  return parts;
}

struct query_values {
  std::optional<std::string> secret, issuer, algorithm, digits, period;
};

result<query_values> parse_query(std::string_view query, std::size_t offset) {
  query_values values;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    const std::size_t pair_offset = offset + start;
    start = end + 1;
    if (pair.empty()) continue;  // tolerate "&&" and a trailing '&'

    const std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      return malformed("parameter without '=' at position " + std::to_string(pair_offset + 1));
    }
    const std::string_view key = pair.substr(0, equals);
    std::optional<std::string>* slot = key == "secret"      ? &values.secret
                                       : key == "issuer"    ? &values.issuer
                                       : key == "algorithm" ? &values.algorithm
                                       : key == "digits"    ? &values.digits
                                       : key == "period"    ? &values.period
                                                            : nullptr;
    if (slot == nullptr) continue;  // e.g. image=, counter=: not ours to judge
    if (slot->has_value()) return malformed("parameter '" + std::string(key) + "' is repeated");
    auto value = decode_part(pair.substr(equals + 1), pair_offset + equals + 1);
    if (!value) return value.error();
    *slot = std::move(*value);
  }
  return values;
}

}  // namespace

std::string make_otpauth_uri(const otpauth_params& params) {
  const std::string issuer = percent_encode(params.issuer);
  std::string uri(scheme);
  uri += "totp/";
  // Without an issuer, a colon in the account would read as a separator: an empty issuer
  // prefix (":account") keeps the round trip exact.
  if (!params.issuer.empty()) {
    uri += issuer;
    uri += ':';
  } else if (params.account.find(':') != std::string::npos) {
    uri += ':';
  }
  uri += percent_encode(params.account);
  uri += "?secret=";
  uri += base32_encode(params.secret);
  if (!params.issuer.empty()) {
    uri += "&issuer=";
    uri += issuer;
  }
  uri += "&algorithm=";
  uri += name(params.algorithm);
  uri += "&digits=";
  uri += std::to_string(params.digits);
  uri += "&period=";
  uri += std::to_string(params.period);
  return uri;
}

result<otpauth_params> parse_otpauth_uri(std::string_view uri) {
  if (uri.size() > max_otpauth_uri_length) return malformed("longer than 4096 characters");
  for (std::size_t i = 0; i < uri.size(); ++i) {
    const auto byte = static_cast<unsigned char>(uri[i]);
    if (byte <= 0x20 || byte >= 0x7f) {
      return malformed("character at position " + std::to_string(i + 1) +
                       " is not printable ASCII (spaces must be written %20)");
    }
  }
  if (!starts_with_ignoring_case(uri, scheme)) return malformed("must start with otpauth://");
  if (uri.find('#') != std::string_view::npos) return malformed("fragments are not allowed");

  const std::size_t type_start = scheme.size();
  const std::size_t slash = uri.find('/', type_start);
  if (slash == std::string_view::npos) return malformed("missing the label after the type");
  const std::string_view type = uri.substr(type_start, slash - type_start);
  if (!starts_with_ignoring_case(type, "totp") || type.size() != 4) {
    return malformed(starts_with_ignoring_case(type, "hotp") && type.size() == 4 ? "only totp URIs are supported"
                                                                                 : "unknown OTP type");
  }

  const std::size_t label_start = slash + 1;
  const std::size_t question = uri.find('?', label_start);
  const std::size_t label_end = question == std::string_view::npos ? uri.size() : question;
  if (label_end == label_start) return malformed("missing the label after the type");
  auto label = parse_label(uri.substr(label_start, label_end - label_start), label_start);
  if (!label) return label.error();

  const std::size_t query_start = question == std::string_view::npos ? uri.size() : question + 1;
  auto query = parse_query(uri.substr(query_start), query_start);
  if (!query) return query.error();

  otpauth_params params;
  params.account = std::move(label->account);
  if (query->issuer && has_control_character(*query->issuer)) {
    return malformed("the issuer contains control characters");
  }
  if (label->issuer && query->issuer && *label->issuer != *query->issuer) {
    return malformed("the issuer parameter does not match the label");
  }
  if (label->issuer) {
    params.issuer = std::move(*label->issuer);
  } else if (query->issuer) {
    params.issuer = std::move(*query->issuer);
  }

  if (query->algorithm) {
    auto algorithm = parse_hash_algorithm(*query->algorithm);
    if (!algorithm) return malformed("algorithm must be SHA1, SHA256 or SHA512");
    params.algorithm = *algorithm;
  }
  if (query->digits) {
    const auto digits = parse_bounded(*query->digits, min_code_digits, max_code_digits);
    if (!digits) return malformed("digits must be 6, 7 or 8");
    params.digits = static_cast<int>(*digits);
  }
  if (query->period) {
    // A day is far beyond any real period; the bound keeps later arithmetic trivially safe.
    const auto period = parse_bounded(*query->period, 1, 86400);
    if (!period) return malformed("period must be a whole number of seconds from 1 to 86400");
    params.period = *period;
  }

  if (!query->secret || query->secret->empty()) return malformed("the secret is missing");
  auto secret = base32_decode(*query->secret);
  secure_wipe(*query->secret);
  if (!secret) return malformed("the secret is not valid base32 (" + secret.error().message + ")");
  if (secret->empty()) return malformed("the secret is missing");
  params.secret = std::move(*secret);
  return params;
}

}  // namespace callsign::crypto
