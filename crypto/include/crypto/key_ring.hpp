// Versioned master keys. Every derived secret names the version it came from, so keys can
// be rotated without invalidating what older versions derived.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::crypto {

struct master_key {
  static constexpr std::size_t size = 32;

  std::uint32_t version = 0;
  std::array<std::uint8_t, size> bytes{};
  // Unix seconds when rotation added this version; 0 when unknown (a generated first key, a
  // hand-written line). Not secret: it starts the previous version's phone-token overlap.
  std::int64_t created_at = 0;

  ~master_key();  // wipes bytes
};

// Thread safety: immutable after construction; const member functions are safe to call
// concurrently. A moved-from key_ring is empty and only assignable or destructible.
class key_ring {
 public:
  // Text format, one key per line: "<version> <64 hex characters> [<created_at>]", version >= 1
  // and unique, created_at in unix seconds (optional, >= 0).
  // Blank lines and lines starting with '#' are ignored; CRLF line ends are accepted.
  // Errors name the line number, never the key material. At least one key is required.
  static result<key_ring> parse(std::string_view text);

  // A ring holding version 1 from the CSPRNG.
  static result<key_ring> generate();

  // Canonical text accepted by parse(), sorted by version. It holds the keys: wipe it
  // (secure_wipe) once written.
  std::string serialize() const;

  // A copy with one more key, version = highest + 1, from the CSPRNG, created at `created_at`
  // (unix seconds from the caller's clock; 0 = unknown).
  result<key_ring> rotated(std::int64_t created_at = 0) const;

  const master_key& current() const noexcept;  // highest version
  const master_key* previous() const noexcept;  // second highest version; nullptr with one key
  const master_key* find(std::uint32_t version) const noexcept;
  std::vector<std::uint32_t> versions() const;  // ascending

 private:
  explicit key_ring(std::vector<master_key> keys) noexcept;

  std::vector<master_key> keys_;  // sorted ascending by version, never empty when valid
};

}  // namespace callsign::crypto
