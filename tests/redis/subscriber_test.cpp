// Pub/sub: a message PUBLISHed through exec reaches callbacks.message, in order and
// binary-safe; after a server restart the subscription is back.
#include <boost/test/unit_test.hpp>

#include <mutex>

#include "redis_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace std::chrono_literals;

namespace {
struct inbox {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<bool> subscribed_changes;

  redis::client_callbacks callbacks() {
    redis::client_callbacks made;
    made.message = [this](std::string_view channel, std::string_view message) {
      std::lock_guard lock(mutex);
      messages.emplace_back(channel, message);
    };
    made.status_changed = [this](const redis::client_status& status) {
      std::lock_guard lock(mutex);
      if (subscribed_changes.empty() || subscribed_changes.back() != status.subscribed) {
        subscribed_changes.push_back(status.subscribed);
      }
    };
    return made;
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(subscriber_suite)

BOOST_AUTO_TEST_CASE(published_messages_arrive_in_order_and_after_a_restart) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  inbox received;
  auto client = redis::client::start(test::options_for(server), received.callbacks(), {"cs:notices", "cs:other"});
  BOOST_REQUIRE(test::wait_until([&] { return client->status().subscribed; }));

  const std::string binary("a\0\r\nb", 5);
  std::vector<redis::command> publish{{"PUBLISH", "cs:notices", binary}, {"PUBLISH", "cs:unsubscribed", "x"}};
  for (int i = 0; i < 100; ++i) publish.push_back({"PUBLISH", "cs:other", std::to_string(i)});
  auto answer = test::exec_wait(*client, publish);
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(0).integer == 1);  // one subscriber: ours
  BOOST_TEST(answer->at(1).integer == 0);
  BOOST_REQUIRE(test::wait_until([&] { return received.count() == 101; }));
  {
    std::lock_guard lock(received.mutex);
    BOOST_TEST(received.messages[0].first == "cs:notices");
    BOOST_TEST(received.messages[0].second == binary);
    for (int i = 0; i < 100; ++i) {
      BOOST_TEST(received.messages[static_cast<std::size_t>(i) + 1].first == "cs:other");
      BOOST_TEST(received.messages[static_cast<std::size_t>(i) + 1].second == std::to_string(i));
    }
  }

  BOOST_TEST(server.stop() == 0);
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().subscribed; }));
  server.start();
  BOOST_REQUIRE(test::wait_until([&] { return client->status().subscribed; }));
  auto again = test::exec_wait(*client, {{"PUBLISH", "cs:notices", "back"}, {"PUBSUB", "NUMSUB", "cs:notices", "cs:other"}});
  BOOST_REQUIRE(again);
  BOOST_TEST(again->at(0).integer == 1);
  BOOST_REQUIRE_EQUAL(again->at(1).elements.size(), 4U);
  BOOST_TEST(again->at(1).elements[3].integer == 1);  // cs:other is subscribed again too
  BOOST_REQUIRE(test::wait_until([&] { return received.count() == 102; }));
  {
    std::lock_guard lock(received.mutex);
    BOOST_TEST(received.messages.back().second == "back");
    BOOST_TEST((received.subscribed_changes == std::vector<bool>{false, true, false, true}));
  }
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(the_subscriber_authenticates_as_the_acl_user) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = {"user default off", "user app on >app-pass-3310 ~cs:* &cs:* +@all"},
                                          .username = "app", .password = "app-pass-3310"});
  inbox received;
  auto options = test::options_for(server);
  options.username = "app";
  options.password = "app-pass-3310";
  auto client = redis::client::start(options, received.callbacks(), {"cs:notices"});
  BOOST_REQUIRE(test::wait_until([&] { return client->status().subscribed; }));
  auto answer = test::exec_wait(*client, {{"PUBLISH", "cs:notices", "hi"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(0).integer == 1);
  BOOST_REQUIRE(test::wait_until([&] { return received.count() == 1; }));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_user_without_the_channels_is_reported) {
  test::temp_directory dir;
  // No &pattern: Redis 7's acl-pubsub-default is resetchannels, so SUBSCRIBE is refused.
  test::redis_process server(dir.path(), {.config_lines = {"user default off", "user app on >app-pass-3310 ~cs:* +@all"},
                                          .username = "app", .password = "app-pass-3310"});
  inbox received;
  auto options = test::options_for(server);
  options.username = "app";
  options.password = "app-pass-3310";
  auto client = redis::client::start(options, received.callbacks(), {"cs:notices"});
  BOOST_REQUIRE(test::wait_until([&] {
    return client->status().last_error.find("SUBSCRIBE refused (NOPERM)") != std::string::npos;
  }));
  const auto status = client->status();
  BOOST_TEST(status.connected);
  BOOST_TEST(!status.subscribed);
  BOOST_TEST(status.last_error.rfind("redis subscriber: 127.0.0.1:", 0) == 0, status.last_error);
  BOOST_TEST(status.last_error.find("app-pass") == std::string::npos);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
