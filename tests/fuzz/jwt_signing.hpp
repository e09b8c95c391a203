// Test-side JWS building for the JWT fuzz target: base64url, HS256 and ES256 signatures over
// exactly the header and payload text given (so headers libjwt would never write can be
// tried), and an independent ES256 check. Uses OpenSSL directly, not the server's code.
#pragma once

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"

namespace callsign::fuzz {

inline std::string base64url(std::string_view bytes) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(buffer >> bits) & 0x3fU]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (6U - bits)) & 0x3fU]);
  return out;
}

// Lenient on purpose (any trailing bits): an acceptance check must not depend on the
// server's strictness, only on the bytes signed.
inline std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  unsigned bits = 0;
  for (const char c : text) {
    unsigned v = 0;
    if (c >= 'A' && c <= 'Z')
      v = static_cast<unsigned>(c - 'A');
    else if (c >= 'a' && c <= 'z')
      v = static_cast<unsigned>(c - 'a' + 26);
    else if (c >= '0' && c <= '9')
      v = static_cast<unsigned>(c - '0' + 52);
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    buffer = ((buffer << 6U) | v) & 0xffffffU;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xffU));
    }
  }
  return out;
}

inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  FUZZ_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &size) != nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

// A fresh P-256 key pair for this process.
struct ec_key {
  EVP_PKEY* key = nullptr;
  std::string public_pem;

  ec_key() {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    FUZZ_CHECK(key != nullptr);
    BIO* bio = BIO_new(BIO_s_mem());
    FUZZ_CHECK(PEM_write_bio_PUBKEY(bio, key) == 1);
    char* pem = nullptr;
    const long size = BIO_get_mem_data(bio, &pem);
    public_pem.assign(pem, static_cast<std::size_t>(size));
    BIO_free(bio);
  }
  ec_key(const ec_key&) = delete;
  ec_key& operator=(const ec_key&) = delete;
  ~ec_key() { EVP_PKEY_free(key); }

  // JWS ES256: the raw 64-byte r || s, not DER.
  std::string sign(std::string_view data) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    FUZZ_CHECK(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1);
    std::size_t size = 0;
    FUZZ_CHECK(EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()), data.size()) ==
               1);
    std::string der(size, '\0');
    FUZZ_CHECK(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &size,
                              reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
    EVP_MD_CTX_free(ctx);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(size));
    FUZZ_CHECK(sig != nullptr);
    std::string raw(64, '\0');
    FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32) == 32);
    FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) == 32);
    ECDSA_SIG_free(sig);
    return raw;
  }

  bool verify(std::string_view data, std::string_view raw) const {
    if (raw.size() != 64) return false;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
    FUZZ_CHECK(ECDSA_SIG_set0(sig, r, s) == 1);
    unsigned char* der = nullptr;
    const int der_size = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    FUZZ_CHECK(der_size > 0);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    FUZZ_CHECK(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1);
    const int ok = EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_size),
                                    reinterpret_cast<const unsigned char*>(data.data()), data.size());
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok == 1;
  }
};

}  // namespace callsign::fuzz
