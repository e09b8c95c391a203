#include "crypto/ed25519.hpp"

#include <openssl/evp.h>

namespace callsign::crypto {
namespace {

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

}  // namespace

struct ed25519_signing_key::state {
  pkey_ptr key;  // EVP_PKEY_free cleanses the private key
};

ed25519_signing_key::ed25519_signing_key(std::unique_ptr<state> s, const ed25519_public_key& public_key) noexcept
    : state_(std::move(s)), public_key_(public_key) {}
ed25519_signing_key::ed25519_signing_key(ed25519_signing_key&&) noexcept = default;
ed25519_signing_key& ed25519_signing_key::operator=(ed25519_signing_key&&) noexcept = default;
ed25519_signing_key::~ed25519_signing_key() = default;

result<ed25519_signing_key> ed25519_signing_key::from_seed(std::span<const std::uint8_t> seed) {
  if (seed.size() != ed25519_seed_size) {
    return make_error(error_kind::invalid_input, "ed25519: the seed must be 32 bytes");
  }
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) return make_error(error_kind::internal, "ed25519: OpenSSL could not build the key");
  ed25519_public_key public_key{};
  std::size_t size = public_key.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), public_key.data(), &size) != 1 || size != public_key.size()) {
    return make_error(error_kind::internal, "ed25519: OpenSSL could not derive the public key");
  }
  auto s = std::make_unique<state>();
  s->key = std::move(key);
  return ed25519_signing_key(std::move(s), public_key);
}

result<ed25519_signature> ed25519_signing_key::sign(std::span<const std::uint8_t> message) const {
  if (!state_ || !state_->key) return make_error(error_kind::internal, "ed25519: signing with an empty key");
  const md_ctx_ptr ctx(EVP_MD_CTX_new());
  // Ed25519 hashes internally: no digest is named, and the message goes in one call.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, state_->key.get()) != 1) {
    return make_error(error_kind::internal, "ed25519: OpenSSL could not start signing");
  }
  ed25519_signature signature{};
  std::size_t size = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) != 1 ||
      size != signature.size()) {
    return make_error(error_kind::internal, "ed25519: OpenSSL could not sign");
  }
  return signature;
}

bool ed25519_verify(const ed25519_public_key& public_key, std::span<const std::uint8_t> message,
                    std::span<const std::uint8_t> signature) noexcept {
  if (signature.size() != ed25519_signature{}.size()) return false;
  const pkey_ptr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  if (!key) return false;
  const md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

}  // namespace callsign::crypto
