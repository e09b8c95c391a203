// token_verifier: the claims a signed token must carry (exp, nbf, iss, aud, sub, role).
#include <boost/test/unit_test.hpp>
#include <string>

#include "server/auth/token_verifier.hpp"
#include "support/jwt_test_support.hpp"

using namespace callsign;
using test::claims;
using test::hs256_key;
using test::libjwt_token;
using test::now;
using test::refusal;

namespace {

std::string hs256(const std::string& claims_json) {
  return libjwt_token(JWT_ALG_HS256, hs256_key, claims_json);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_claims_tests)

BOOST_AUTO_TEST_CASE(valid_hs256_token_gives_the_principal) {
  const auto verifier = test::make_verifier();
  const auto verified = verifier.verify(hs256(claims("agent", "agent-7")), now);
  BOOST_TEST_REQUIRE(verified.has_value());
  BOOST_TEST((verified->role == server::role::agent));
  BOOST_TEST(verified->subject == "agent-7");
  for (const auto* role : {"customer", "agent", "service", "admin"}) {
    const auto each = verifier.verify(hs256(claims(role, "u1")), now);
    BOOST_TEST_REQUIRE(each.has_value());
    BOOST_TEST(server::role_name(each->role) == role);
  }
}

BOOST_AUTO_TEST_CASE(exp_is_required_and_honours_the_leeway) {
  const auto verifier = test::make_verifier();  // leeway 30 s
  const std::string token = hs256(claims("agent", "a", R"("exp":1700000000)"));
  BOOST_TEST(refusal(verifier, token, now - 1) == "");
  BOOST_TEST(refusal(verifier, token, now) == "");       // within leeway
  BOOST_TEST(refusal(verifier, token, now + 29) == "");  // within leeway
  BOOST_TEST(refusal(verifier, token, now + 30) == "token has expired");
  BOOST_TEST(refusal(verifier, token, now + 3600) == "token has expired");

  server::auth_config strict;
  strict.leeway_seconds = 0;
  const auto no_leeway = test::make_verifier(hs256_key, {}, {}, strict);
  BOOST_TEST(refusal(no_leeway, token, now - 1) == "");
  BOOST_TEST(refusal(no_leeway, token, now) == "token has expired");

  BOOST_TEST(refusal(verifier, hs256(claims("agent", "a", R"("iat":1700000000)"))) == "token has no expiry");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", "a", R"("exp":"2000000000")"))) == "token claims are malformed");
  // Fractional NumericDates are allowed; extreme ones never wrap into the valid range.
  const auto signed_with = [](std::string_view extra) {
    return test::hand_signed_hs256(R"({"alg":"HS256","typ":"JWT"})", claims("agent", "a", extra));
  };
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":1700000100.5)")) == "");
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":1700000000.5)"), now + 30) == "token has expired");
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":1e300)")) == "");
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":-9223372036854775808)")) == "token has expired");
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":-1e300)")) == "token has expired");
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":null)")) == "token claims are malformed");
  // Beyond int64: libjwt's JSON reader gives up, so the token is refused either way.
  BOOST_TEST(refusal(verifier, signed_with(R"("exp":18446744073709551615)")) != "");
}

BOOST_AUTO_TEST_CASE(nbf_in_the_future_is_refused_beyond_the_leeway) {
  const auto verifier = test::make_verifier();
  const std::string token = hs256(claims("agent", "a", R"("exp":2000000000,"nbf":1700000100)"));
  BOOST_TEST(refusal(verifier, token, now) == "token is not valid yet");
  BOOST_TEST(refusal(verifier, token, now + 69) == "token is not valid yet");
  BOOST_TEST(refusal(verifier, token, now + 70) == "");  // 100 s early minus 30 s leeway
  BOOST_TEST(refusal(verifier, token, now + 100) == "");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", "a", R"("exp":2000000000,"nbf":"soon")"))) ==
             "token claims are malformed");
}

BOOST_AUTO_TEST_CASE(issuer_must_match) {
  const auto verifier = test::make_verifier();
  BOOST_TEST(
      refusal(verifier, hs256(R"({"iss":"other","aud":"callsign","sub":"a","role":"agent","exp":2000000000})")) ==
      "token issuer is not accepted");
  BOOST_TEST(refusal(verifier, hs256(R"({"aud":"callsign","sub":"a","role":"agent","exp":2000000000})")) ==
             "token issuer is not accepted");
  BOOST_TEST(
      refusal(verifier, hs256(R"({"iss":"Callsign","aud":"callsign","sub":"a","role":"agent","exp":2000000000})")) ==
      "token issuer is not accepted");

  server::auth_config custom;
  custom.issuer = "https://idp.example";
  custom.audience = "support-desk";
  const auto configured = test::make_verifier(hs256_key, {}, {}, custom);
  BOOST_TEST(refusal(configured, hs256(R"({"iss":"https://idp.example","aud":"support-desk","sub":"a","role":"agent",)"
                                       R"("exp":2000000000})")) == "");
  BOOST_TEST(refusal(configured, hs256(claims())) == "token issuer is not accepted");
}

BOOST_AUTO_TEST_CASE(audience_string_or_array_must_name_ours) {
  const auto verifier = test::make_verifier();
  const auto with_aud = [](const std::string& aud) {
    return hs256(R"({"iss":"callsign","aud":)" + aud + R"(,"sub":"a","role":"agent","exp":2000000000})");
  };
  BOOST_TEST(refusal(verifier, with_aud(R"("callsign")")) == "");
  BOOST_TEST(refusal(verifier, with_aud(R"(["other","callsign"])")) == "");
  BOOST_TEST(refusal(verifier, with_aud(R"("other")")) == "token audience is not accepted");
  BOOST_TEST(refusal(verifier, with_aud(R"(["other","more"])")) == "token audience is not accepted");
  BOOST_TEST(refusal(verifier, with_aud(R"([])")) == "token audience is not accepted");
  BOOST_TEST(refusal(verifier, with_aud(R"(["callsign",7])")) == "token claims are malformed");
  BOOST_TEST(refusal(verifier, with_aud(R"({"aud":"callsign"})")) == "token claims are malformed");
  BOOST_TEST(refusal(verifier, hs256(R"({"iss":"callsign","sub":"a","role":"agent","exp":2000000000})")) ==
             "token audience is not accepted");
}

BOOST_AUTO_TEST_CASE(role_is_required_and_must_be_known) {
  const auto verifier = test::make_verifier();
  BOOST_TEST(refusal(verifier, hs256(R"({"iss":"callsign","aud":"callsign","sub":"a","exp":2000000000})")) ==
             "token role is missing or unknown");
  BOOST_TEST(refusal(verifier, hs256(claims("superuser"))) == "token role is missing or unknown");
  BOOST_TEST(refusal(verifier, hs256(claims("Admin"))) == "token role is missing or unknown");
  BOOST_TEST(refusal(verifier, hs256(claims(""))) == "token role is missing or unknown");
  BOOST_TEST(refusal(verifier, hs256(R"({"iss":"callsign","aud":"callsign","sub":"a","role":["admin"],)"
                                     R"("exp":2000000000})")) == "token claims are malformed");
}

BOOST_AUTO_TEST_CASE(subject_is_required_short_and_printable) {
  const auto verifier = test::make_verifier();
  BOOST_TEST(refusal(verifier, hs256(R"({"iss":"callsign","aud":"callsign","role":"agent","exp":2000000000})")) ==
             "token subject is missing or invalid");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", ""))) == "token subject is missing or invalid");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", "two words"))) == "token subject is missing or invalid");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", "tab\\there"))) == "token subject is missing or invalid");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", "zo\xc3\xab"))) == "token subject is missing or invalid");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", std::string(128, 's')))) == "");
  BOOST_TEST(refusal(verifier, hs256(claims("agent", std::string(129, 's')))) == "token subject is missing or invalid");
}

// A claim two JSON readers could read differently (first vs last duplicate) is refused.
BOOST_AUTO_TEST_CASE(repeated_claims_are_refused) {
  const auto verifier = test::make_verifier();
  BOOST_TEST(
      refusal(verifier, test::hand_signed_hs256(R"({"alg":"HS256","typ":"JWT"})",
                                                claims("customer", "a", R"("exp":2000000000,"role":"admin")"))) ==
      "token claims are malformed");
  BOOST_TEST(refusal(verifier, test::hand_signed_hs256(R"({"alg":"HS256","typ":"JWT"})",
                                                       claims("agent", "a", R"("exp":1,"exp":2000000000)"))) ==
             "token claims are malformed");
  // A correct HMAC over claims libjwt cannot read is a claims problem, not a bad signature.
  const std::string prefix = R"({"iss":"callsign","aud":"callsign","role":"agent",)";
  for (const char* tail : {R"("sub":"a","exp":1e999})", R"("sub":"a","exp":9223372036854775808})",
                           R"("sub":"a\u0000b","exp":2000000000})"}) {
    BOOST_TEST_INFO(tail);
    BOOST_TEST(refusal(verifier, test::hand_signed_hs256(R"({"alg":"HS256","typ":"JWT"})", prefix + tail)) ==
               "token claims are malformed");
  }
  // Unknown claims, and the same token hand-signed, are fine.
  BOOST_TEST(refusal(verifier, test::hand_signed_hs256(R"({"alg":"HS256","typ":"JWT"})",
                                                       claims("agent", "a", R"("exp":2000000000,"x":[1,{}])"))) == "");
}

BOOST_AUTO_TEST_SUITE_END()
