#include "crypto/sha256_stream.hpp"

#include <openssl/evp.h>

#include <new>

#include "openssl_digests.hpp"

namespace callsign::crypto {

struct sha256_stream::state {
  EVP_MD_CTX* ctx = nullptr;
  ~state() { EVP_MD_CTX_free(ctx); }
};

sha256_stream::sha256_stream() : state_(std::make_unique<state>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (state_->ctx == nullptr ||
      EVP_DigestInit_ex2(state_->ctx, detail::fetched_digest(hash_algorithm::sha256), nullptr) != 1) {
    throw std::bad_alloc();
  }
}

sha256_stream::sha256_stream(sha256_stream&&) noexcept = default;
sha256_stream& sha256_stream::operator=(sha256_stream&&) noexcept = default;
sha256_stream::~sha256_stream() = default;

void sha256_stream::update(std::span<const std::uint8_t> data) {
  if (!data.empty() && EVP_DigestUpdate(state_->ctx, data.data(), data.size()) != 1) throw std::bad_alloc();
}

sha256_digest sha256_stream::finish() {
  sha256_digest out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(state_->ctx, out.data(), &size) != 1 || size != out.size()) throw std::bad_alloc();
  if (EVP_DigestInit_ex2(state_->ctx, detail::fetched_digest(hash_algorithm::sha256), nullptr) != 1) {
    throw std::bad_alloc();
  }
  return out;
}

}  // namespace callsign::crypto
