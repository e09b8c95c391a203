// base32_decode on arbitrary text, and encode/decode round trips of arbitrary bytes.
// Invariants: every value has exactly one accepted spelling up to case and padding, so a
// decoded text re-encodes to itself (upper case, '=' dropped); errors never echo the input.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/base32.hpp"
#include "fuzz/fuzz_check.hpp"

using namespace callsign;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Bytes -> text -> the same bytes.
  const std::string encoded = crypto::base32_encode(bytes);
  FUZZ_CHECK(encoded.size() == (size * 8 + 4) / 5);
  const auto round_trip = crypto::base32_decode(encoded);
  FUZZ_CHECK(round_trip.has_value());
  FUZZ_CHECK(std::equal(round_trip->begin(), round_trip->end(), bytes.begin(), bytes.end()));

  // Text -> bytes -> the canonical spelling of the same text.
  const auto decoded = crypto::base32_decode(text);
  if (decoded) {
    std::string canonical(text.substr(0, text.find('=')));
    std::transform(canonical.begin(), canonical.end(), canonical.begin(),
                   [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    FUZZ_CHECK(crypto::base32_encode(*decoded) == canonical);
    FUZZ_CHECK(decoded->size() == canonical.size() * 5 / 8);
  } else {
    FUZZ_CHECK(decoded.error().kind == error_kind::invalid_input);
    // Messages are fixed words and a position; an input spelled only with those may match.
    const bool message_like = text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789 '=:") == std::string::npos;
    FUZZ_CHECK(size < 8 || message_like || decoded.error().message.find(text) == std::string::npos);
  }
  return 0;
}
