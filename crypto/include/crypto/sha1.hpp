// SHA-1, only for matching the Have I Been Pwned password list, which is keyed by SHA-1.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace callsign::crypto {

using sha1_digest = std::array<std::uint8_t, 20>;

// Thread-safe. Throws std::bad_alloc only if OpenSSL cannot allocate.
sha1_digest sha1(std::string_view data);

}  // namespace callsign::crypto
