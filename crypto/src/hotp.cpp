#include "crypto/hotp.hpp"

#include <algorithm>
#include <array>

namespace callsign::crypto {

std::string hotp_code(const hmac_key& key, std::uint64_t counter, int digits) {
  digits = std::clamp(digits, min_code_digits, max_code_digits);

  std::array<std::uint8_t, 8> message{};  // counter, big-endian (RFC 4226 section 5.2)
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[message.size() - 1 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
  }
  const hmac_digest digest = key.sign(message);

  // Dynamic truncation (section 5.3): 31 bits at the offset named by the low nibble of the
  // last byte. Every supported digest is >= 20 bytes, so offset + 3 stays in range.
  const std::size_t offset = digest.bytes[digest.size - 1] & 0x0fU;
  const std::uint32_t binary = (static_cast<std::uint32_t>(digest.bytes[offset] & 0x7fU) << 24) |
                               (static_cast<std::uint32_t>(digest.bytes[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(digest.bytes[offset + 2]) << 8) |
                               static_cast<std::uint32_t>(digest.bytes[offset + 3]);

  // Decimal, right to left, so leading zeros come for free (fits in the SSO buffer).
  std::string code(static_cast<std::size_t>(digits), '0');
  std::uint32_t rest = binary;
  for (std::size_t i = code.size(); i-- > 0;) {
    code[i] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  return code;
}

}  // namespace callsign::crypto
