#include "crypto/sha256.hpp"

#include <new>

#include "openssl_digests.hpp"

namespace callsign::crypto {

sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts) {
  EVP_MD_CTX* ctx = detail::scratch_digest_context();
  const EVP_MD* md = detail::fetched_digest(hash_algorithm::sha256);
  if (md == nullptr || EVP_DigestInit_ex2(ctx, md, nullptr) != 1) throw std::bad_alloc();
  for (const auto part : parts) {
    if (!part.empty() && EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) throw std::bad_alloc();
  }
  sha256_digest out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &size) != 1 || size != out.size()) throw std::bad_alloc();
  return out;
}

sha256_digest sha256(std::span<const std::uint8_t> data) {
  return sha256({data});
}

sha256_digest sha256(std::string_view data) {
  return sha256({std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())});
}

}  // namespace callsign::crypto
