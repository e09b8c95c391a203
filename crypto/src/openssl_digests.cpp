#include "openssl_digests.hpp"

#include <new>

namespace callsign::crypto::detail {
namespace {

// Constructed after OpenSSL's own initialisation, so destroyed before its atexit cleanup.
class fetched_digests {
 public:
  fetched_digests() noexcept
      : sha1_(EVP_MD_fetch(nullptr, "SHA1", nullptr)),
        sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
        sha512_(EVP_MD_fetch(nullptr, "SHA512", nullptr)) {}
  ~fetched_digests() {
    EVP_MD_free(sha1_);
    EVP_MD_free(sha256_);
    EVP_MD_free(sha512_);
  }
  fetched_digests(const fetched_digests&) = delete;
  fetched_digests& operator=(const fetched_digests&) = delete;

  const EVP_MD* get(hash_algorithm algorithm) const noexcept {
    switch (algorithm) {
      case hash_algorithm::sha1:
        return sha1_;
      case hash_algorithm::sha256:
        return sha256_;
      case hash_algorithm::sha512:
        return sha512_;
    }
    return nullptr;
  }

 private:
  EVP_MD* sha1_;
  EVP_MD* sha256_;
  EVP_MD* sha512_;
};

}  // namespace

const EVP_MD* fetched_digest(hash_algorithm algorithm) noexcept {
  static const fetched_digests digests;
  return digests.get(algorithm);
}

EVP_MD_CTX* scratch_digest_context() {
  thread_local const md_ctx_ptr scratch{EVP_MD_CTX_new()};
  if (!scratch) throw std::bad_alloc();
  return scratch.get();
}

}  // namespace callsign::crypto::detail
