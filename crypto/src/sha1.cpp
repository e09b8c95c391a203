#include "crypto/sha1.hpp"

#include <new>

#include "openssl_digests.hpp"

namespace callsign::crypto {

sha1_digest sha1(std::string_view data) {
  EVP_MD_CTX* ctx = detail::scratch_digest_context();
  const EVP_MD* md = detail::fetched_digest(hash_algorithm::sha1);
  sha1_digest out{};
  unsigned int size = 0;
  if (md == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx, out.data(), &size) != 1 ||
      size != out.size()) {
    throw std::bad_alloc();
  }
  return out;
}

}  // namespace callsign::crypto
