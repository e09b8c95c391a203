// token_verifier: which algorithm may be used with which key, signatures, and token shape.
#include <boost/test/unit_test.hpp>
#include <string>

#include "server/auth/token_verifier.hpp"
#include "support/jwt_test_support.hpp"

using namespace callsign;
using test::base64url;
using test::claims;
using test::hand_signed_hs256;
using test::hs256_key;
using test::libjwt_token;
using test::now;
using test::refusal;

namespace {

// Generated once per test binary: RSA key generation costs tens of milliseconds.
const test::key_pair& ec_keys() {
  static const test::key_pair keys = test::generate_key_pair(false);
  return keys;
}
const test::key_pair& rsa_keys() {
  static const test::key_pair keys = test::generate_key_pair(true);
  return keys;
}

const std::string payload = base64url(claims("admin", "root"));

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_algorithm_tests)

BOOST_AUTO_TEST_CASE(es256_and_rs256_tokens_verify_with_their_public_keys) {
  const auto verifier = test::make_verifier(hs256_key, ec_keys().public_pem, rsa_keys().public_pem);
  BOOST_TEST((verifier.algorithms() == std::vector<std::string_view>{"HS256", "ES256", "RS256"}));
  const auto es = verifier.verify(libjwt_token(JWT_ALG_ES256, ec_keys().private_pem, claims("service", "waf-1")), now);
  BOOST_TEST_REQUIRE(es.has_value(), (es.has_value() ? "" : es.error().message));
  BOOST_TEST((es->role == server::role::service));
  BOOST_TEST(es->subject == "waf-1");
  const auto rs = verifier.verify(libjwt_token(JWT_ALG_RS256, rsa_keys().private_pem, claims("admin", "root")), now);
  BOOST_TEST_REQUIRE(rs.has_value(), (rs.has_value() ? "" : rs.error().message));
  BOOST_TEST((rs->role == server::role::admin));

  // Signed by a different key pair of the right type.
  const auto other_ec = test::generate_key_pair(false);
  BOOST_TEST(refusal(verifier, libjwt_token(JWT_ALG_ES256, other_ec.private_pem, claims())) ==
             "token signature is invalid");
}

// Signed by Python's cryptography package (r || s, RFC 7518 section 3.4), not by libjwt.
BOOST_AUTO_TEST_CASE(es256_token_from_an_independent_signer) {
  const std::string public_pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVHLDAvhN2oxCCVjNmLJgd/n5qcny\n"
      "b3KuX8ThlpmDVP2lnHH+xeJw1vrzJzexJ4cbt/7PdWZRFRMJBrP36im7NA==\n"
      "-----END PUBLIC KEY-----\n";
  const std::string token =
      "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJpc3MiOiJjYWxsc2lnbiIsImF1ZCI6ImNhbGxzaWduIiwic3ViIjoiYWdlbnQtNyIsInJvbGUiOiJhZ2VudCIsImV4cCI6MjAwMDAwMDAwMH0."
      "rDOKhO1WZH99ImznUCzrtULHps0QMnxAFiyMUtFFEYUQHFzFFTZFW0uerilZlrTMH4XorGXFNhciGEn9jQ9Yng";
  const auto verifier = test::make_verifier({}, public_pem);
  const auto verified = verifier.verify(token, now);
  BOOST_TEST_REQUIRE(verified.has_value(), (verified.has_value() ? "" : verified.error().message));
  BOOST_TEST(verified->subject == "agent-7");
  std::string tampered = token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  BOOST_TEST(refusal(verifier, tampered) == "token signature is invalid");
}

BOOST_AUTO_TEST_CASE(alg_none_is_refused_in_every_spelling) {
  const auto verifier = test::make_verifier(hs256_key, ec_keys().public_pem, rsa_keys().public_pem);
  // {"alg":"none"} with an empty signature: the classic unsigned token.
  BOOST_TEST(refusal(verifier, "eyJhbGciOiJub25lIn0." + payload + ".") == "token algorithm is not accepted");
  BOOST_TEST(refusal(verifier, "eyJhbGciOiJub25lIn0." + payload) == "bearer token is malformed");
  for (const std::string alg :
       {"none", "None", "NONE", "nOnE", "", "hs256", "HS384", "HS512", "RS384", "ES512", "PS256", "EdDSA"}) {
    const std::string header = base64url(R"({"alg":")" + alg + R"(","typ":"JWT"})");
    BOOST_TEST(refusal(verifier, header + "." + payload + ".") == "token algorithm is not accepted", alg);
    BOOST_TEST(refusal(verifier, header + "." + payload + ".c2ln") == "token algorithm is not accepted", alg);
  }
  // A valid HS256 signature does not rescue a header that says "none".
  const std::string valid = libjwt_token(JWT_ALG_HS256, hs256_key, claims());
  const std::string none_header = base64url(R"({"alg":"none","typ":"JWT"})");
  BOOST_TEST(refusal(verifier, none_header + valid.substr(valid.find('.'))) == "token algorithm is not accepted");
}

// The RS256 public key is public: a token HMAC'd with its PEM text must not pass as HS256.
BOOST_AUTO_TEST_CASE(hs256_signed_with_the_public_key_pem_is_refused) {
  const std::string forged_rsa = libjwt_token(JWT_ALG_HS256, rsa_keys().public_pem, claims("admin", "root"));
  const std::string forged_ec = libjwt_token(JWT_ALG_HS256, ec_keys().public_pem, claims("admin", "root"));
  // With an HMAC key configured too, the forgery is checked against that key and fails.
  const auto with_hmac = test::make_verifier(hs256_key, ec_keys().public_pem, rsa_keys().public_pem);
  BOOST_TEST(refusal(with_hmac, forged_rsa) == "token signature is invalid");
  BOOST_TEST(refusal(with_hmac, forged_ec) == "token signature is invalid");
  // With only public keys, HS256 is not an accepted algorithm at all.
  const auto rsa_only = test::make_verifier({}, {}, rsa_keys().public_pem);
  BOOST_TEST((rsa_only.algorithms() == std::vector<std::string_view>{"RS256"}));
  BOOST_TEST(refusal(rsa_only, forged_rsa) == "token algorithm is not accepted");
  // Cross-type: an ES256 token against an RSA-only verifier, and the reverse.
  BOOST_TEST(refusal(rsa_only, libjwt_token(JWT_ALG_ES256, ec_keys().private_pem, claims())) ==
             "token algorithm is not accepted");
  const auto ec_only = test::make_verifier({}, ec_keys().public_pem);
  BOOST_TEST(refusal(ec_only, libjwt_token(JWT_ALG_RS256, rsa_keys().private_pem, claims())) ==
             "token algorithm is not accepted");
  BOOST_TEST(refusal(ec_only, libjwt_token(JWT_ALG_HS256, hs256_key, claims())) == "token algorithm is not accepted");
}

BOOST_AUTO_TEST_CASE(bad_hs256_signatures_are_refused) {
  const auto verifier = test::make_verifier();
  const std::string token = libjwt_token(JWT_ALG_HS256, hs256_key, claims());
  BOOST_TEST(refusal(verifier, token) == "");
  BOOST_TEST(refusal(verifier, libjwt_token(JWT_ALG_HS256, std::string(32, 'x'), claims())) ==
             "token signature is invalid");
  const std::size_t signature_start = token.rfind('.') + 1;
  for (std::size_t i = signature_start; i < token.size(); i += 7) {
    std::string tampered = token;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    BOOST_TEST(refusal(verifier, tampered) != "");
  }
  // A payload swapped under the original signature.
  const std::string other_payload = base64url(claims("admin", "root"));
  const std::size_t first = token.find('.');
  const std::size_t second = token.rfind('.');
  BOOST_TEST(refusal(verifier, token.substr(0, first + 1) + other_payload + token.substr(second)) ==
             "token signature is invalid");
  BOOST_TEST(refusal(verifier, token.substr(0, second + 1)) == "token signature is invalid");
  BOOST_TEST(refusal(verifier, token.substr(0, second + 1) + "AAAA") == "token signature is invalid");
}

BOOST_AUTO_TEST_CASE(garbage_and_odd_shapes_are_malformed) {
  const auto verifier = test::make_verifier();
  const std::string good = libjwt_token(JWT_ALG_HS256, hs256_key, claims());
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string("a.b"), std::string("a.b.c"), std::string(".."),
        std::string("...."), std::string("Bearer ") + good, good + ".", good + ".x.y", std::string("\0\0.\0", 4),
        std::string(9000, 'a'), good.substr(0, good.find('.')) + "=" + good.substr(good.find('.')),
        "eyJhbGciOiJIUzI1NiJ9+." + good.substr(good.find('.') + 1), std::string("{\"alg\":\"HS256\"}.e30.AAAA")}) {
    const std::string reason = refusal(verifier, bad);
    BOOST_TEST((reason == "bearer token is malformed" || reason == "token signature is invalid"), reason);
  }
  BOOST_TEST(refusal(verifier, good + std::string(9000, 'a')) == "bearer token is malformed");  // over 8 KiB
}

BOOST_AUTO_TEST_CASE(headers_that_two_readers_could_disagree_on_are_refused) {
  const auto verifier = test::make_verifier();
  const std::string body = claims();
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":"HS256"})", body)) == "");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":"HS256","typ":"jwt","kid":"k1"})", body)) == "");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":"none","alg":"HS256"})", body)) ==
             "bearer token is malformed");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":"HS256","typ":"at+jwt"})", body)) ==
             "bearer token is malformed");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":"HS256","crit":["exp"]})", body)) ==
             "bearer token is malformed");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"typ":"JWT"})", body)) == "bearer token is malformed");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"(["HS256"])", body)) == "bearer token is malformed");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":["HS256"]})", body)) == "bearer token is malformed");
  BOOST_TEST(refusal(verifier, hand_signed_hs256(R"({"alg":"HS256"})", "not json")) != "");
}

BOOST_AUTO_TEST_CASE(verifier_needs_a_suitable_key) {
  const auto none = server::token_verifier::create(test::default_auth(), server::verification_keys{});
  BOOST_TEST_REQUIRE(!none.has_value());
  const auto make = [](std::string hs, std::string es, std::string rs) {
    server::verification_keys keys;
    keys.hs256_secret = std::move(hs);
    keys.es256_public_pem = std::move(es);
    keys.rs256_public_pem = std::move(rs);
    return server::token_verifier::create(test::default_auth(), std::move(keys));
  };
  BOOST_TEST(!make(std::string(31, 'k'), {}, {}).has_value());
  BOOST_TEST(!make({}, rsa_keys().public_pem, {}).has_value());  // RSA key offered for ES256
  BOOST_TEST(!make({}, {}, ec_keys().public_pem).has_value());   // EC key offered for RS256
  BOOST_TEST(!make({}, ec_keys().private_pem, {}).has_value());  // never a private key
  BOOST_TEST(!make({}, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", {}).has_value());
  const auto short_rsa = test::generate_key_pair(true, 1024);
  const auto weak = make({}, {}, short_rsa.public_pem);
  BOOST_TEST_REQUIRE(!weak.has_value());
  BOOST_TEST(weak.error().message.find("2048") != std::string::npos);
  const auto p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, p384);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  BOOST_TEST(!make({}, std::string(data, static_cast<std::size_t>(size)), {}).has_value());
  BIO_free(bio);
  EVP_PKEY_free(p384);
}

BOOST_AUTO_TEST_SUITE_END()
