// A stream's token expiry: exp plus leeway (unix seconds) against the injected clock, and the
// same moment on the deadline wheel's clock.
#include "server/stream/stream_token_expiry.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>

#include "server/timing/deadline_wheel.hpp"
#include "support/jwt_test_support.hpp"

using namespace callsign::server;

BOOST_AUTO_TEST_SUITE(stream_token_expiry_tests)

// A stream's token expiry (exp + leeway, unix seconds) against the injected clock's milliseconds.
BOOST_AUTO_TEST_CASE(a_token_is_expired_from_exp_plus_leeway_on) {
  const std::int64_t valid_until = 1'800'000'030;  // exp 1'800'000'000 + 30 s leeway
  BOOST_TEST(!stream_token_expired(valid_until, valid_until * 1000 - 1));
  BOOST_TEST(stream_token_expired(valid_until, valid_until * 1000));
  BOOST_TEST(stream_token_expired(valid_until, valid_until * 1000 + 5000));
  // Never expires on its own: not from a token (or beyond what milliseconds can count).
  BOOST_TEST(!stream_token_expired(INT64_MAX, INT64_MAX - 1));
  BOOST_TEST(!stream_token_expired(INT64_MAX / 1000 + 1, 1'800'000'000'000));
}

BOOST_AUTO_TEST_CASE(the_expiry_deadline_is_the_distance_on_the_injected_clock_moved_to_the_sweeps_clock) {
  const std::int64_t valid_until = 1'800'000'004;
  const std::int64_t steady_now = 5'000;
  // 3.25 s before expiry (wall clock) is 3.25 s after now on the steady clock.
  BOOST_TEST(stream_expiry_due_ms(valid_until, valid_until * 1000 - 3250, steady_now) == steady_now + 3250);
  // Already expired, by any amount: due now, never in the past.
  BOOST_TEST(stream_expiry_due_ms(valid_until, valid_until * 1000, steady_now) == steady_now);
  BOOST_TEST(stream_expiry_due_ms(valid_until, valid_until * 1000 + 60'000, steady_now) == steady_now);
  // No expiry, or one too far away to count: never.
  BOOST_TEST(stream_expiry_due_ms(INT64_MAX, 1'800'000'000'000, steady_now) == deadline_entry::never);
  BOOST_TEST(stream_expiry_due_ms(INT64_MAX / 1000 - 1, -INT64_MAX / 2, INT64_MAX / 2) == deadline_entry::never);
  // The wall clock moved back 10 s after the deadline was set: when the sweep fires, the token is
  // not expired yet, and asking again gives the remaining distance.
  const std::int64_t first = stream_expiry_due_ms(valid_until, valid_until * 1000 - 1000, steady_now);
  BOOST_TEST(first == steady_now + 1000);
  const std::int64_t unix_at_fire = valid_until * 1000 - 10'000;
  BOOST_TEST(!stream_token_expired(valid_until, unix_at_fire));
  BOOST_TEST(stream_expiry_due_ms(valid_until, unix_at_fire, first) == first + 10'000);
}

// Where a stream's expiry comes from: the verifier's principal carries exp + leeway, the moment
// from which it refuses the same token, whether the token was checked in full or remembered.
BOOST_AUTO_TEST_CASE(the_verifier_gives_the_moment_the_token_stops_being_accepted) {
  using callsign::test::now;                              // 1'700'000'000
  const auto verifier = callsign::test::make_verifier();  // leeway 30 s
  const std::string token = callsign::test::libjwt_token(
      JWT_ALG_HS256, callsign::test::hs256_key, callsign::test::claims("customer", "u1", R"("exp":1700000005)"));
  for (int round = 0; round < 2; ++round) {  // the second answer comes from the verified-token cache
    const auto who = verifier.verify(token, now);
    BOOST_TEST_REQUIRE(who.has_value());
    BOOST_TEST(who->valid_until == 1'700'000'035);
    BOOST_TEST(!stream_token_expired(who->valid_until, (who->valid_until * 1000) - 1));
    BOOST_TEST(callsign::test::refusal(verifier, token, who->valid_until - 1) == "");
    BOOST_TEST(callsign::test::refusal(verifier, token, who->valid_until) == "token has expired");
  }
  callsign::server::auth_config strict;
  strict.leeway_seconds = 0;
  const auto no_leeway = callsign::test::make_verifier(callsign::test::hs256_key, {}, {}, strict);
  const auto who = no_leeway.verify(token, now);
  BOOST_TEST_REQUIRE(who.has_value());
  BOOST_TEST(who->valid_until == 1'700'000'005);
}

BOOST_AUTO_TEST_SUITE_END()
