// Secret-dependent comparisons and wiping (CRYPTO_memcmp / OPENSSL_cleanse underneath).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace callsign::crypto {

// Runs in time that depends only on the lengths; different lengths compare unequal.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// Overwrites the bytes in a way the compiler may not elide.
void secure_wipe(std::span<std::uint8_t> bytes) noexcept;
// Wipes every byte the string owns (its full capacity), then clears it.
void secure_wipe(std::string& text) noexcept;

}  // namespace callsign::crypto
