// stream_deadlines (the lazy timer wheel) against a plain model: the same entries, the same
// due changes and the same sweeps must fire the same entries, each at most one tick late.
#include "server/stream/stream_deadlines.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <random>
#include <vector>

#include "support/jwt_test_support.hpp"

using namespace callsign::server;

namespace {

struct entry final : stream_deadline {
  int fired = 0;
  std::int64_t fired_at = -1;
  std::int64_t* clock = nullptr;
  void on_deadline() override {
    ++fired;
    fired_at = *clock;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_deadlines_tests)

BOOST_AUTO_TEST_CASE(a_sweep_visits_only_due_slots_and_fires_each_due_entry_once) {
  std::int64_t now = 1'000'000;
  stream_deadlines list(100, 16);
  entry a, b, c;
  for (auto* e : {&a, &b, &c}) e->clock = &now;
  list.add(a);
  list.add(b);
  list.add(c);
  BOOST_TEST(list.sweep(now) == 0U);
  a.set_due(now + 250);
  b.set_due(now + 100'000);  // beyond one turn of the wheel (1.6 s): parked in the furthest slot
  c.set_due(now + 50);
  now += 100;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(c.fired == 1);
  BOOST_TEST(c.due() == stream_deadline::never);
  now += 100;
  BOOST_TEST(list.sweep(now) == 0U);
  now += 100;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(a.fired == 1);
  for (int i = 0; i < 990; ++i) {  // 99 s in 100 ms steps: b is refiled each turn, not fired
    now += 100;
    BOOST_TEST_REQUIRE(list.sweep(now) == 0U);
  }
  now += 1'000;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(b.fired == 1);
  BOOST_TEST(b.fired_at >= 1'100'000);
  BOOST_TEST(b.fired_at < 1'100'000 + 1'100);
  list.remove(a);
  list.remove(b);
  list.remove(c);
  BOOST_TEST(list.size() == 0U);
}

BOOST_AUTO_TEST_CASE(a_deadline_moved_earlier_is_refiled_and_one_moved_later_waits) {
  std::int64_t now = 50'000;
  stream_deadlines list(100, 64);
  entry e;
  e.clock = &now;
  list.add(e);
  list.sweep(now);
  e.set_due(now + 5'000);
  e.set_due(now + 200);  // earlier: must not wait for the 5 s slot
  now += 300;
  BOOST_TEST(list.sweep(now) == 1U);
  e.set_due(now + 100);
  e.set_due(now + 900);  // later: stays in the 100 ms slot, refiled there, fires at 900
  now += 200;
  BOOST_TEST(list.sweep(now) == 0U);
  now += 800;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(e.fired == 2);
  list.remove(e);
  list.remove(e);  // idempotent
  e.set_due(now);  // not listed: nothing to refile, nothing fires
  now += 1'000;
  BOOST_TEST(list.sweep(now) == 0U);
}

BOOST_AUTO_TEST_CASE(a_long_gap_between_sweeps_still_fires_everything_due) {
  std::int64_t now = 0;
  stream_deadlines list(10, 8);
  std::vector<entry> entries(50);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].clock = &now;
    list.add(entries[i]);
    entries[i].set_due(static_cast<std::int64_t>(i) * 7);
  }
  now = 10'000;  // many turns of the wheel later
  BOOST_TEST(list.sweep(now) == entries.size());
  for (auto& e : entries) list.remove(e);
}

BOOST_AUTO_TEST_CASE(random_schedules_match_a_plain_model) {
  std::mt19937_64 rng(20261126);
  constexpr std::int64_t tick = 100;
  stream_deadlines list(tick, 32);
  std::int64_t now = 7'000'000;
  std::vector<entry> entries(300);
  std::vector<std::int64_t> model(entries.size(), stream_deadline::never);
  std::vector<bool> listed(entries.size(), false);
  // When each entry became due as far as the list can know: its due, or the moment it was set
  // or added, if that was later (a due already in the past fires at the next ticks' sweep).
  std::vector<std::int64_t> due_since(entries.size(), stream_deadline::never);
  for (auto& e : entries) e.clock = &now;
  for (int round = 0; round < 3'000; ++round) {
    for (int k = 0; k < 5; ++k) {
      const auto i = static_cast<std::size_t>(rng() % entries.size());
      switch (rng() % 6) {
        case 0:
          if (!listed[i] && model[i] != stream_deadline::never) due_since[i] = std::max(model[i], now);
          list.add(entries[i]);
          listed[i] = true;
          break;
        case 1:
          list.remove(entries[i]);
          listed[i] = false;
          break;
        default: {
          const auto due = now + static_cast<std::int64_t>(rng() % 6'000) - 500;
          entries[i].set_due(due);
          model[i] = due;
          due_since[i] = std::max(due, now);
        }
      }
    }
    now += static_cast<std::int64_t>(rng() % 250);
    std::vector<int> before;
    for (auto& e : entries) before.push_back(e.fired);
    list.sweep(now);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const bool fired = entries[i].fired != before[i];
      if (fired) {
        // Only listed entries fire, only once due, and their due is reset.
        BOOST_TEST_REQUIRE(listed[i]);
        BOOST_TEST_REQUIRE(model[i] <= now);
        BOOST_TEST_REQUIRE(entries[i].due() == stream_deadline::never);
        model[i] = stream_deadline::never;
      } else if (listed[i] && model[i] != stream_deadline::never) {
        // A listed entry not fired became due less than a tick and one sweep interval ago.
        BOOST_TEST_REQUIRE(due_since[i] > now - tick - 250);
      }
    }
  }
  for (auto& e : entries) list.remove(e);
  BOOST_TEST(list.size() == 0U);
}

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
  BOOST_TEST(stream_expiry_due_ms(INT64_MAX, 1'800'000'000'000, steady_now) == stream_deadline::never);
  BOOST_TEST(stream_expiry_due_ms(INT64_MAX / 1000 - 1, -INT64_MAX / 2, INT64_MAX / 2) == stream_deadline::never);
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
  using callsign::test::now;  // 1'700'000'000
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
