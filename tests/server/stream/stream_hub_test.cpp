#include "server/stream/stream_hub.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "server/config/config.hpp"
#include "server/stream/stream_auth.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
stream_message msg(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

std::string pop_text(stream_subscriber& s) {
  auto next = s.pop();
  return next ? **next : std::string("<none>");
}
}  // namespace

BOOST_AUTO_TEST_SUITE(stream_hub_tests)

BOOST_AUTO_TEST_CASE(caps_per_user_and_in_total) {
  stream_hub hub(stream_limits{2, 3, 4});
  auto a1 = hub.subscribe("alice", {});
  auto a2 = hub.subscribe("alice", {});
  BOOST_REQUIRE(a1 && a2);
  auto a3 = hub.subscribe("alice", {});
  BOOST_REQUIRE(!a3);
  BOOST_TEST((a3.error().kind == error_kind::rate_limited));
  auto b1 = hub.subscribe("bob", {});
  BOOST_REQUIRE(b1);
  auto c1 = hub.subscribe("carol", {});
  BOOST_REQUIRE(!c1);
  BOOST_TEST((c1.error().kind == error_kind::unavailable));
  BOOST_TEST(hub.size() == 3U);
  BOOST_TEST(hub.size_of("carol") == 0U);
  BOOST_TEST(hub.users().size() == 2U);  // a refused user leaves no empty entry behind
  BOOST_TEST(hub.subscriptions() == 3U);  // refusals are not subscriptions

  hub.unsubscribe(*a1);
  BOOST_TEST(hub.size() == 2U);
  BOOST_TEST(hub.size_of("alice") == 1U);
  BOOST_TEST(hub.subscribe("carol", {}).has_value());
  hub.unsubscribe(*a1);  // twice is harmless
  BOOST_TEST(hub.size() == 3U);
}

BOOST_AUTO_TEST_CASE(unsubscribe_removes_the_user_when_its_last_stream_goes) {
  stream_hub hub(stream_limits{});
  auto a = hub.subscribe("alice", {});
  BOOST_REQUIRE(a);
  hub.unsubscribe(*a);
  BOOST_TEST(hub.users().empty());
  BOOST_TEST(hub.size() == 0U);
  BOOST_TEST(hub.publish("alice", msg("x")) == 0U);
  BOOST_TEST(!(*a)->pop().has_value());
}

BOOST_AUTO_TEST_CASE(outbox_keeps_only_the_newest_token) {
  int wakes = 0;
  stream_subscriber s("alice", 4, [&] { ++wakes; });
  s.push_token(10, msg("t10"));
  s.push_token(11, msg("t11"));
  s.push_token(12, msg("t12"));
  s.push_token(11, msg("t11-late"));  // an older step never replaces a newer one
  BOOST_TEST(wakes == 1);             // one wake until the consumer drains
  BOOST_TEST(s.queued() == 1U);
  BOOST_TEST(pop_text(s) == "t12");
  BOOST_TEST(!s.pop().has_value());
  s.push_token(13, msg("t13"));
  BOOST_TEST(wakes == 2);
  BOOST_TEST(!s.overflowed());
}

BOOST_AUTO_TEST_CASE(local_tokens_take_no_wake_and_only_the_newest_is_sent) {
  int wakes = 0;
  stream_subscriber s("alice", 4, [&] { ++wakes; });
  // The boundary fan-out, on the consumer's own thread.
  s.push_local_token(20, msg("local20"));
  s.push_local_token(19, msg("local19"));  // older: ignored
  BOOST_TEST(wakes == 0);
  BOOST_TEST(pop_text(s) == "local20");
  BOOST_TEST(!s.pop().has_value());
  // A token from another thread (a latecomer's) and a local one: only the newer is sent.
  s.push_token(21, msg("hub21"));
  s.push_local_token(22, msg("local22"));
  BOOST_TEST(wakes == 1);
  BOOST_TEST(pop_text(s) == "local22");
  BOOST_TEST(!s.pop().has_value());
  s.push_local_token(23, msg("local23"));
  s.push_token(24, msg("hub24"));
  BOOST_TEST(wakes == 2);
  BOOST_TEST(pop_text(s) == "hub24");
  BOOST_TEST(!s.pop().has_value());
  // Queued notices still go before the token.
  s.push_local_token(25, msg("local25"));
  BOOST_TEST(s.push(msg("verified")));
  BOOST_TEST(wakes == 3);
  BOOST_TEST(pop_text(s) == "verified");
  BOOST_TEST(pop_text(s) == "local25");
  BOOST_TEST(!s.pop().has_value());
  BOOST_TEST(s.queued() == 0U);
}

BOOST_AUTO_TEST_CASE(an_empty_pop_rearms_the_wake) {
  int wakes = 0;
  stream_subscriber s("alice", 4, [&] { ++wakes; });
  BOOST_TEST(s.push(msg("1")));
  BOOST_TEST(pop_text(s) == "1");
  s.push_local_token(1, msg("t"));
  BOOST_TEST(pop_text(s) == "t");  // finds the queue empty: re-arms the wake, then the local token
  BOOST_TEST(!s.pop().has_value());
  BOOST_TEST(s.push(msg("2")));
  BOOST_TEST(wakes == 2);
  BOOST_TEST(pop_text(s) == "2");
}

BOOST_AUTO_TEST_CASE(other_messages_go_first_then_the_token) {
  stream_subscriber s("alice", 4, {});
  s.push_token(1, msg("token"));
  BOOST_TEST(s.push(msg("verified-1")));
  BOOST_TEST(s.push(msg("verified-2")));
  BOOST_TEST(pop_text(s) == "verified-1");
  BOOST_TEST(pop_text(s) == "verified-2");
  BOOST_TEST(pop_text(s) == "token");
  BOOST_TEST(!s.pop().has_value());
}

BOOST_AUTO_TEST_CASE(queue_overflow_marks_for_closing) {
  int wakes = 0;
  stream_subscriber s("alice", 2, [&] { ++wakes; });
  BOOST_TEST(s.push(msg("1")));
  BOOST_TEST(s.push(msg("2")));
  BOOST_TEST(!s.push(msg("3")));
  BOOST_TEST(s.overflowed());
  BOOST_TEST(!s.push(msg("4")));
  BOOST_TEST(s.queued() == 0U);  // nothing more is kept for a slow consumer
  BOOST_TEST(wakes == 1);
  // Tokens never overflow: however many boundaries pass, one is kept.
  stream_subscriber t("bob", 2, {});
  for (std::uint64_t step = 0; step < 1000; ++step) {
    t.push_token(step, msg("t"));
  }
  BOOST_TEST(!t.overflowed());
  BOOST_TEST(t.queued() == 1U);
}

BOOST_AUTO_TEST_CASE(fan_out_to_every_stream_of_the_user_only) {
  stream_hub hub(stream_limits{});
  std::atomic<int> wakes{0};
  auto a1 = hub.subscribe("alice", [&] { ++wakes; });
  auto a2 = hub.subscribe("alice", [&] { ++wakes; });
  auto b1 = hub.subscribe("bob", [&] { ++wakes; });
  BOOST_REQUIRE(a1 && a2 && b1);
  hub.publish_verified("alice", "agent-7", "phone_token", 1700000000);
  auto token = msg("tok");
  BOOST_TEST(hub.publish_token("alice", 5, token) == 2U);
  BOOST_TEST(wakes.load() == 2);
  std::string expected = R"({"type":"verified","agent":"agent-7","method":"phone_token","at":1700000000})";
  BOOST_TEST(pop_text(**a1) == expected);
  BOOST_TEST(pop_text(**a2) == expected);
  auto shared1 = (*a1)->pop();
  auto shared2 = (*a2)->pop();
  BOOST_REQUIRE(shared1 && shared2);
  BOOST_TEST(shared1->get() == shared2->get());  // one encoded frame for all of alice's streams
  BOOST_TEST(!(*b1)->pop().has_value());
}

BOOST_AUTO_TEST_CASE(authenticator_notice_goes_to_the_user_only) {
  stream_hub hub(stream_limits{});
  auto a = hub.subscribe("alice", [] {});
  auto b = hub.subscribe("bob", [] {});
  BOOST_REQUIRE(a && b);
  hub.publish_authenticator("alice", "active", 1700000001);
  hub.publish_authenticator("nobody", "none", 1700000002);  // no streams: nothing to do
  BOOST_TEST(pop_text(**a) == R"({"type":"authenticator","state":"active","at":1700000001})");
  BOOST_TEST(!(*a)->pop().has_value());
  BOOST_TEST(!(*b)->pop().has_value());
}

namespace {
struct counting_deadline final : deadline_entry {
  int fired = 0;
  std::shared_ptr<void> on_deadline() override {
    ++fired;
    return nullptr;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(deadlines_fire_once_when_due_and_not_after_removal) {
  deadline_wheel list;
  counting_deadline a, b, c;
  list.add(a);
  list.add(b);
  list.add(c);
  list.add(b);  // already listed
  BOOST_TEST(list.size() == 3U);
  a.set_due(100);
  b.set_due(200);
  BOOST_TEST(list.sweep(99) == 0U);
  BOOST_TEST(list.sweep(150) == 1U);
  BOOST_TEST(a.fired == 1);
  BOOST_TEST(a.due() == deadline_entry::never);
  BOOST_TEST(list.sweep(150) == 0U);  // once per set_due
  list.remove(b);
  list.remove(b);
  BOOST_TEST(list.sweep(1000) == 0U);
  BOOST_TEST(b.fired == 0);
  BOOST_TEST(c.fired == 0);
  c.set_due(5);  // already past: fires at the next sweep
  BOOST_TEST(list.sweep(1100) == 1U);
  BOOST_TEST(c.fired == 1);
  list.remove(a);
  list.remove(c);
  BOOST_TEST(list.size() == 0U);
}

BOOST_AUTO_TEST_CASE(concurrent_publish_and_subscribe) {
  stream_hub hub(stream_limits{100, 1000, 1000});
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    std::uint64_t step = 0;
    while (!stop.load()) {
      hub.publish_token("alice", ++step, msg("t"));
      hub.publish("alice", msg("v"));
    }
  });
  for (int i = 0; i < 200; ++i) {
    auto s = hub.subscribe("alice", [] {});
    BOOST_REQUIRE(s);
    while ((*s)->pop()) {
    }
    hub.unsubscribe(*s);
  }
  stop.store(true);
  publisher.join();
  BOOST_TEST(hub.size() == 0U);
}

BOOST_AUTO_TEST_CASE(message_encoders) {
  BOOST_TEST(stream_error_message("bad \"token\"") == R"({"type":"error","error":"bad \"token\""})");
  BOOST_TEST(stream_authenticator_message("pending", 1700000000) ==
             R"({"type":"authenticator","state":"pending","at":1700000000})");
  BOOST_TEST(stream_token_message(R"({"token":"123456","step":7})") ==
             R"({"type":"token","token":"123456","step":7})");
}

BOOST_AUTO_TEST_CASE(origin_allow_list) {
  stream_config cfg;
  BOOST_TEST(stream_origin_allowed(cfg, std::nullopt));
  BOOST_TEST(!stream_origin_allowed(cfg, std::string_view("https://evil.example")));
  cfg.allowed_origins = {"https://app.example"};
  BOOST_TEST(stream_origin_allowed(cfg, std::string_view("https://app.example")));
  BOOST_TEST(!stream_origin_allowed(cfg, std::string_view("https://app.example.evil")));
}

BOOST_AUTO_TEST_CASE(origin_same_as_host) {
  stream_config cfg;
  using sv = std::string_view;
  BOOST_TEST(stream_origin_allowed(cfg, sv("http://127.0.0.1:8080"), sv("127.0.0.1:8080")));
  BOOST_TEST(stream_origin_allowed(cfg, sv("https://callsign.example"), sv("callsign.example")));
  BOOST_TEST(!stream_origin_allowed(cfg, sv("http://127.0.0.1:8081"), sv("127.0.0.1:8080")));
  BOOST_TEST(!stream_origin_allowed(cfg, sv("http://evil.example"), sv("callsign.example")));
  BOOST_TEST(!stream_origin_allowed(cfg, sv("http://callsign.example.evil"), sv("callsign.example")));
  BOOST_TEST(!stream_origin_allowed(cfg, sv("ftp://callsign.example"), sv("callsign.example")));
  BOOST_TEST(!stream_origin_allowed(cfg, sv("http://x"), std::optional<sv>(sv(""))));
  BOOST_TEST(!stream_origin_allowed(cfg, sv("http://x"), std::nullopt));
  BOOST_TEST(stream_origin_allowed(cfg, std::nullopt, sv("callsign.example")));
}

BOOST_AUTO_TEST_SUITE_END()
