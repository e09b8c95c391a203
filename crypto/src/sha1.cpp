#include "crypto/sha1.hpp"

#include <openssl/evp.h>

#include <new>

namespace callsign::crypto {

sha1_digest sha1(std::string_view data) {
  sha1_digest out{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha1(), nullptr) != 1 || size != out.size()) {
    throw std::bad_alloc();
  }
  return out;
}

}  // namespace callsign::crypto
