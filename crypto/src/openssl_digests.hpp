// Private to callsign_crypto: OpenSSL digest objects fetched once per process, and one scratch
// digest context per thread, for every hash this library computes.
#pragma once

#include <openssl/evp.h>

#include <memory>

#include "crypto/hash_algorithm.hpp"

namespace callsign::crypto::detail {

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

// The fetched digest; nullptr only if OpenSSL cannot provide it. Fetching takes a lock and a
// provider lookup (EVP_sha256() and friends do it again inside every EVP_DigestInit), so each
// digest is fetched once. EVP_MD objects are immutable and safe to share across threads.
const EVP_MD* fetched_digest(hash_algorithm algorithm) noexcept;

// This thread's reusable context: callers initialise it (EVP_DigestInit_ex2 or
// EVP_MD_CTX_copy_ex) before use and finish with it before returning. Throws std::bad_alloc
// when OpenSSL cannot allocate one.
EVP_MD_CTX* scratch_digest_context();

}  // namespace callsign::crypto::detail
