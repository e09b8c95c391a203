// Token and key fixtures for the auth tests: fresh EC/RSA key pairs from OpenSSL, tokens signed
// by libjwt (any claims JSON), and hand-built tokens for headers libjwt would never write.
#pragma once

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "crypto/hmac_key.hpp"
#include "server/auth/token_verifier.hpp"

namespace callsign::test {

inline std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

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

// 32 fixed bytes: the HS256 key most tests configure.
inline const std::string hs256_key = "0123456789abcdef0123456789abcdef";

struct key_pair {
  std::string public_pem;
  std::string private_pem;
};

// "EC" with "P-256", or "RSA" with a bit count.
inline key_pair generate_key_pair(bool rsa, unsigned rsa_bits = 2048) {
  EVP_PKEY* key = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BOOST_TEST_REQUIRE(key != nullptr);
  const auto pem = [&](bool private_key) {
    BIO* bio = BIO_new(BIO_s_mem());
    const int written = private_key ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                                    : PEM_write_bio_PUBKEY(bio, key);
    BOOST_TEST_REQUIRE(written == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return text;
  };
  key_pair pair{pem(false), pem(true)};
  EVP_PKEY_free(key);
  return pair;
}

// Signs `claims_json` with libjwt: the way a real issuer's library would.
inline std::string libjwt_token(jwt_alg_t alg, std::string_view key, const std::string& claims_json) {
  jwt_t* jwt = nullptr;
  BOOST_TEST_REQUIRE(jwt_new(&jwt) == 0);
  BOOST_TEST_REQUIRE(jwt_add_grants_json(jwt, claims_json.c_str()) == 0);
  BOOST_TEST_REQUIRE(
      jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())) == 0);
  char* encoded = jwt_encode_str(jwt);
  BOOST_TEST_REQUIRE(encoded != nullptr);
  std::string token(encoded);
  std::free(encoded);
  jwt_free(jwt);
  return token;
}

// header.payload.HMAC-SHA256 over exactly the given JSON texts (duplicate members, odd typ...).
inline std::string hand_signed_hs256(std::string_view header_json, std::string_view claims_json,
                                     std::string_view key = hs256_key) {
  const std::string signing_input = base64url(header_json) + "." + base64url(claims_json);
  auto mac = crypto::hmac_key::create(crypto::hash_algorithm::sha256, bytes_of(key));
  BOOST_TEST_REQUIRE(mac.has_value());
  const auto digest = mac->sign(bytes_of(signing_input));
  const auto view = digest.view();
  return signing_input + "." + base64url(std::string_view(reinterpret_cast<const char*>(view.data()), view.size()));
}

// Claims every accepted token carries, with exp = 2'000'000'000 and the given role and sub.
inline std::string claims(std::string_view role = "agent", std::string_view sub = "agent-7",
                          std::string_view extra = R"("exp":2000000000)") {
  return R"({"iss":"callsign","aud":"callsign","sub":")" + std::string(sub) + R"(","role":")" + std::string(role) +
         R"(",)" + std::string(extra) + "}";
}

inline constexpr std::int64_t now = 1'700'000'000;

inline server::auth_config default_auth() {
  return server::auth_config{};  // issuer and audience "callsign", leeway 30 s
}

inline server::token_verifier make_verifier(std::string hs256 = hs256_key, std::string es256 = {},
                                            std::string rs256 = {},
                                            const server::auth_config& config = default_auth()) {
  server::verification_keys keys;
  keys.hs256_secret = std::move(hs256);
  keys.es256_public_pem = std::move(es256);
  keys.rs256_public_pem = std::move(rs256);
  auto verifier = server::token_verifier::create(config, std::move(keys));
  BOOST_TEST_REQUIRE(verifier.has_value(), (verifier.has_value() ? std::string() : verifier.error().message));
  return std::move(verifier).value();
}

// The reason verify() gave, or "" when it accepted; checks the kind and that no token leaks.
inline std::string refusal(const server::token_verifier& verifier, const std::string& token, std::int64_t at = now) {
  const auto verified = verifier.verify(token, at);
  if (verified.has_value()) return "";
  BOOST_TEST((verified.error().kind == error_kind::unauthorized));
  if (token.size() >= 8) BOOST_TEST(verified.error().message.find(token.substr(0, 8)) == std::string::npos);
  return verified.error().message;
}

}  // namespace callsign::test
