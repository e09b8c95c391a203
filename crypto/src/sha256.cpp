#include "crypto/sha256.hpp"

#include <openssl/evp.h>

#include <memory>
#include <new>

namespace callsign::crypto {
namespace {

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

}  // namespace

sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts) {
  const std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  for (const auto part : parts) {
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) throw std::bad_alloc();
  }
  sha256_digest out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &size) != 1 || size != out.size()) throw std::bad_alloc();
  return out;
}

sha256_digest sha256(std::span<const std::uint8_t> data) {
  return sha256({data});
}

sha256_digest sha256(std::string_view data) {
  return sha256({std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())});
}

}  // namespace callsign::crypto
