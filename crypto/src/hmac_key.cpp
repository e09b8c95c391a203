#include "crypto/hmac_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "openssl_digests.hpp"

namespace callsign::crypto {
namespace {

constexpr std::size_t max_block_size = 128;  // SHA-512; SHA-1 and SHA-256 use 64
static_assert(EVP_MAX_MD_SIZE <= hmac_digest::max_size);

// A context that has absorbed one padded key block: HMAC's inner or outer prefix.
detail::md_ctx_ptr absorb_padded_key(const EVP_MD* md, const std::uint8_t* padded, std::size_t size) {
  detail::md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 || EVP_DigestUpdate(ctx.get(), padded, size) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

hmac_digest::~hmac_digest() {
  OPENSSL_cleanse(bytes.data(), bytes.size());
}

struct hmac_key::state {
  detail::md_ctx_ptr inner;  // H state after (K' xor ipad)
  detail::md_ctx_ptr outer;  // H state after (K' xor opad)
};

result<hmac_key> hmac_key::create(hash_algorithm algorithm, std::span<const std::uint8_t> key) {
  if (!is_valid(algorithm)) {
    return make_error(error_kind::invalid_input, "unknown HMAC hash algorithm");
  }
  const EVP_MD* md = detail::fetched_digest(algorithm);
  if (md == nullptr) return make_error(error_kind::internal, "OpenSSL digest is unavailable");
  const auto block_size = static_cast<std::size_t>(EVP_MD_get_block_size(md));
  if (block_size == 0 || block_size > max_block_size) {
    return make_error(error_kind::internal, "unexpected digest block size");
  }

  // K' = K, or H(K) when K is longer than a block; then zero-padded to the block size.
  std::array<std::uint8_t, max_block_size> key_block{};
  if (key.size() > block_size) {
    unsigned int hashed_size = 0;
    if (EVP_Digest(key.data(), key.size(), key_block.data(), &hashed_size, md, nullptr) != 1) {
      return make_error(error_kind::internal, "hashing the HMAC key failed");
    }
  } else {
    std::copy(key.begin(), key.end(), key_block.begin());
  }

  std::array<std::uint8_t, max_block_size> padded{};
  auto st = std::make_unique<state>();
  for (std::size_t i = 0; i < block_size; ++i) padded[i] = key_block[i] ^ 0x36U;
  st->inner = absorb_padded_key(md, padded.data(), block_size);
  for (std::size_t i = 0; i < block_size; ++i) padded[i] = key_block[i] ^ 0x5cU;
  st->outer = absorb_padded_key(md, padded.data(), block_size);
  OPENSSL_cleanse(key_block.data(), key_block.size());
  OPENSSL_cleanse(padded.data(), padded.size());
  if (!st->inner || !st->outer) {
    return make_error(error_kind::internal, "initialising the HMAC key failed");
  }
  return hmac_key(algorithm, std::move(st));
}

hmac_key::hmac_key(hash_algorithm algorithm, std::unique_ptr<state> st) noexcept
    : algorithm_(algorithm), state_(std::move(st)) {}

hmac_key::hmac_key(hmac_key&&) noexcept = default;
hmac_key& hmac_key::operator=(hmac_key&&) noexcept = default;
hmac_key::~hmac_key() = default;

hmac_digest hmac_key::sign(std::span<const std::uint8_t> message) const {
  return sign({message});
}

hmac_digest hmac_key::sign(std::initializer_list<std::span<const std::uint8_t>> parts) const {
  if (!state_) std::abort();  // moved-from: see the header
  hmac_digest out;
  EVP_MD_CTX* ctx = detail::scratch_digest_context();

  // With both prefixes precomputed, a copy can only fail when OpenSSL cannot allocate.
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> inner_hash{};
  unsigned int inner_size = 0;
  bool ok = EVP_MD_CTX_copy_ex(ctx, state_->inner.get()) == 1;
  for (const auto& part : parts) {
    if (ok && !part.empty()) ok = EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx, inner_hash.data(), &inner_size) == 1;

  unsigned int outer_size = 0;
  ok = ok && EVP_MD_CTX_copy_ex(ctx, state_->outer.get()) == 1;
  ok = ok && EVP_DigestUpdate(ctx, inner_hash.data(), inner_size) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx, out.bytes.data(), &outer_size) == 1;
  if (!ok) throw std::bad_alloc();
  out.size = outer_size;
  return out;
}

}  // namespace callsign::crypto
