#include "crypto/random_bytes.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstddef>

namespace callsign::crypto {

result<void> random_bytes(std::span<std::uint8_t> out) {
  // RAND_bytes takes an int length, so very large requests go in chunks.
  constexpr std::size_t max_chunk = static_cast<std::size_t>(INT_MAX);
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t chunk = std::min(out.size() - done, max_chunk);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return make_error(error_kind::unavailable, "the random number generator is not available");
    }
    done += chunk;
  }
  return {};
}

}  // namespace callsign::crypto
