// Incremental SHA-256 for content too large to hold in memory (list files, set files).
#pragma once

#include <memory>
#include <span>
#include <cstdint>

#include "crypto/sha256.hpp"

namespace callsign::crypto {

// Not thread-safe: one stream per thread. Throws std::bad_alloc only if OpenSSL cannot allocate.
class sha256_stream {
 public:
  sha256_stream();
  sha256_stream(sha256_stream&&) noexcept;
  sha256_stream& operator=(sha256_stream&&) noexcept;
  ~sha256_stream();

  void update(std::span<const std::uint8_t> data);
  // The digest of everything fed so far; the stream is reset afterwards.
  sha256_digest finish();

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::crypto
