#include "crypto/hash_algorithm.hpp"

#include <cstddef>

namespace callsign::crypto {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (x != b[i]) return false;  // b is upper case
  }
  return true;
}

}  // namespace

result<hash_algorithm> parse_hash_algorithm(std::string_view text) {
  for (hash_algorithm candidate : {hash_algorithm::sha1, hash_algorithm::sha256, hash_algorithm::sha512}) {
    if (equals_ignoring_case(text, name(candidate))) return candidate;
  }
  return make_error(error_kind::invalid_input, "algorithm must be SHA1, SHA256 or SHA512");
}

std::string_view name(hash_algorithm algorithm) noexcept {
  switch (algorithm) {
    case hash_algorithm::sha1:
      return "SHA1";
    case hash_algorithm::sha256:
      return "SHA256";
    case hash_algorithm::sha512:
      return "SHA512";
  }
  return "unknown";
}

std::size_t digest_size(hash_algorithm algorithm) noexcept {
  switch (algorithm) {
    case hash_algorithm::sha1:
      return 20;
    case hash_algorithm::sha256:
      return 32;
    case hash_algorithm::sha512:
      return 64;
  }
  return 0;
}

bool is_valid(hash_algorithm algorithm) noexcept {
  return digest_size(algorithm) != 0;
}

}  // namespace callsign::crypto
