// verified_token_cache, on its own and inside token_verifier: a cached token must be accepted or
// refused exactly as the full check would, at every time, for every token.
#include "server/auth/verified_token_cache.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/auth/token_verifier.hpp"
#include "support/jwt_test_support.hpp"

using namespace callsign;
using test::claims;
using test::hs256_key;
using test::now;
using test::refusal;

namespace {

std::string hs256(const std::string& claims_json) {
  return test::libjwt_token(JWT_ALG_HS256, hs256_key, claims_json);
}

server::token_verifier verifier_with_cache(std::size_t entries) {
  server::auth_config config;
  config.token_cache_entries = entries;
  return test::make_verifier(hs256_key, {}, {}, config);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verified_token_cache_tests)

BOOST_AUTO_TEST_CASE(the_cache_keeps_the_principal_for_its_window_only) {
  server::verified_token_cache cache(8);
  BOOST_TEST(cache.slots() == 8u);
  const auto key = server::verified_token_cache::digest_of("a.b.c");
  BOOST_TEST(!cache.find(key, now).has_value());
  cache.store(key, server::principal{server::role::agent, "agent-7"}, now - 10, now + 10);
  const auto hit = cache.find(key, now);
  BOOST_TEST_REQUIRE(hit.has_value());
  BOOST_TEST((hit->role == server::role::agent));
  BOOST_TEST(hit->subject == "agent-7");
  BOOST_TEST(cache.find(key, now - 10).has_value());
  BOOST_TEST(!cache.find(key, now - 11).has_value());
  BOOST_TEST(cache.find(key, now + 9).has_value());
  BOOST_TEST(!cache.find(key, now + 10).has_value());
  BOOST_TEST(!cache.find(server::verified_token_cache::digest_of("a.b.d"), now).has_value());
}

BOOST_AUTO_TEST_CASE(a_zero_sized_cache_never_hits) {
  server::verified_token_cache cache(0);
  const auto key = server::verified_token_cache::digest_of("a.b.c");
  cache.store(key, server::principal{server::role::admin, "root"}, 0, now * 2);
  BOOST_TEST(!cache.find(key, now).has_value());
}

BOOST_AUTO_TEST_CASE(one_slot_alternating_tokens_each_keep_their_own_principal) {
  server::verified_token_cache cache(1);
  const auto a = server::verified_token_cache::digest_of("token-a");
  const auto b = server::verified_token_cache::digest_of("token-b");
  cache.store(a, server::principal{server::role::agent, "a"}, 0, now * 2);
  cache.store(b, server::principal{server::role::customer, "b"}, 0, now * 2);
  BOOST_TEST(!cache.find(a, now).has_value());  // replaced, never confused
  const auto hit = cache.find(b, now);
  BOOST_TEST_REQUIRE(hit.has_value());
  BOOST_TEST(hit->subject == "b");
}

// The same tokens at the same sequence of times, through a verifier with the cache and one
// without: every answer must be identical, including the reason of every refusal.
BOOST_AUTO_TEST_CASE(cached_and_uncached_verifiers_agree_at_every_time) {
  const auto cached = verifier_with_cache(4);  // small, so slots are shared and replaced
  const auto uncached = verifier_with_cache(0);
  std::vector<std::string> tokens = {
      hs256(claims("agent", "a", R"("exp":1700000000)")),
      hs256(claims("customer", "c", R"("exp":2000000000,"nbf":1700000100)")),
      hs256(claims("admin", "root")),
      hs256(claims("service", "svc", R"("exp":1700000050,"nbf":1699999990)")),
      test::hand_signed_hs256(R"({"alg":"HS256"})", claims("agent", "x"), "another-key-another-key-another-k"),
  };
  // The first token with one signature byte changed: it must never ride on the valid one's entry.
  std::string tampered = tokens[0];
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  tokens.push_back(tampered);
  const std::int64_t times[] = {now - 100, now, now + 29, now + 30, now + 69, now + 70, now + 80,
                                now - 200, now + 100, now + 10, now + 3600, now - 1};
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto t : times) {
      for (const auto& token : tokens) {
        BOOST_TEST(refusal(cached, token, t) == refusal(uncached, token, t), "at " << t);
      }
    }
  }
  BOOST_TEST(refusal(cached, tampered, now - 100) == "token signature is invalid");
  BOOST_TEST(refusal(cached, tokens[0], now + 30) == "token has expired");
  BOOST_TEST(refusal(cached, tokens[1], now + 69) == "token is not valid yet");
}

BOOST_AUTO_TEST_CASE(a_verifier_for_another_key_does_not_share_the_cache) {
  const auto first = verifier_with_cache(64);
  const std::string token = hs256(claims("admin", "root"));
  BOOST_TEST(refusal(first, token) == "");
  const auto other = test::make_verifier("ffffffffffffffffffffffffffffffff");
  BOOST_TEST(refusal(other, token) == "token signature is invalid");
}

BOOST_AUTO_TEST_CASE(concurrent_callers_always_get_their_own_token_s_principal) {
  const auto verifier = verifier_with_cache(2);  // constant replacement between threads
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i) tokens.push_back(hs256(claims("agent", "agent-" + std::to_string(i))));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        const int which = (i + t) % 8;
        const auto who = verifier.verify(tokens[static_cast<std::size_t>(which)], now);
        if (!who || who->subject != "agent-" + std::to_string(which)) wrong.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(wrong.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
