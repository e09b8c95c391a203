#include "server/lists/list_fetch.hpp"

#include <algorithm>

#include "crypto/hex.hpp"

namespace callsign::server {
namespace {

bool keepable(std::string_view value) {
  return !value.empty() && value.size() <= 256 &&
         std::all_of(value.begin(), value.end(), [](char c) { return c >= ' ' && c <= '~'; });
}

error too_large(std::uint64_t limit) {
  return make_error(error_kind::invalid_input,
                    "the download is larger than the list's limit of " + std::to_string(limit) + " bytes");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> conditional_headers(const list_validators& known) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!known.etag.empty()) headers.emplace_back("If-None-Match", known.etag);
  if (!known.last_modified.empty()) headers.emplace_back("If-Modified-Since", known.last_modified);
  return headers;
}

list_validators validators_from(std::string_view etag, std::string_view last_modified) {
  return {keepable(etag) ? std::string(etag) : std::string(),
          keepable(last_modified) ? std::string(last_modified) : std::string()};
}

result<list_response> judge_list_response(unsigned status, std::string_view content_encoding) {
  if (status == 304) return list_response::not_modified;
  if (status >= 300 && status < 400) {
    return make_error(error_kind::unavailable, "the server answered " + std::to_string(status) +
                                                   " (a redirect); redirects are not followed, configure the "
                                                   "final URL");
  }
  if (status != 200) {
    return make_error(error_kind::unavailable, "the server answered " + std::to_string(status) + ", not 200 or 304");
  }
  if (!content_encoding.empty() && content_encoding != "identity") {
    return make_error(error_kind::invalid_input, "the server sent a compressed body (Content-Encoding), which "
                                                 "was not asked for");
  }
  return list_response::body;
}

result<void> download_budget::admit_declared(std::optional<std::uint64_t> content_length) const {
  if (content_length && *content_length > limit_) return too_large(limit_);
  return {};
}

result<void> download_budget::take(std::uint64_t bytes) {
  if (bytes > limit_ - received_) return too_large(limit_);
  received_ += bytes;
  return {};
}

result<std::string> parse_expected_sha256(std::string_view text) {
  if (text.size() != 64 || !std::all_of(text.begin(), text.end(), [](char c) { return crypto::hex_digit_value(c) >= 0; })) {
    return make_error(error_kind::invalid_input, "must be 64 hex digits (a SHA-256)");
  }
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c; });
  return lower;
}

result<void> check_expected_sha256(std::string_view expected, std::string_view actual) {
  // Both are public digests of public content: a plain comparison is fine.
  if (expected == actual) return {};
  return make_error(error_kind::invalid_input, "the download's SHA-256 " + std::string(actual) +
                                                   " is not the configured sha256; refused");
}

}  // namespace callsign::server
