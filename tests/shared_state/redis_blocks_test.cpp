// Blocks on Redis: the admin directory (list, lift, find), also run over the embedded adapter
// (storage::embedded_block_directory) so both answer alike, and the events every node's block
// cache learns from (cs:events).
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>
#include <string>
#include <vector>

#include "redis_backend_fixture.hpp"
#include "storage/block_directory.hpp"
#include "storage/database.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_blocks.hpp"
#include "support/attempt_samples.hpp"
#include "support/memory_state_backend.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using test::attempts_contract::failure_at;
using test::attempts_contract::t0;

namespace {

// A subscriber on its own connection: messages of cs:events in arrival order.
class event_listener {
 public:
  explicit event_listener(std::uint16_t port) : reader_(redisReaderCreate(), redisReaderFree) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    const std::string subscribe = "*2\r\n$9\r\nSUBSCRIBE\r\n$9\r\ncs:events\r\n";
    BOOST_REQUIRE(::send(fd_, subscribe.data(), subscribe.size(), MSG_NOSIGNAL) ==
                  static_cast<ssize_t>(subscribe.size()));
    BOOST_REQUIRE(next_array().at(0) == "subscribe");
  }
  ~event_listener() { ::close(fd_); }
  event_listener(const event_listener&) = delete;
  event_listener& operator=(const event_listener&) = delete;

  // The next message's payload; fails the test when none arrives within 5 s.
  std::string next_message() {
    auto fields = next_array();
    BOOST_REQUIRE(fields.size() == 3U);
    BOOST_REQUIRE(fields[0] == "message");
    BOOST_REQUIRE(fields[1] == "cs:events");
    return fields[2];
  }

 private:
  std::vector<std::string> next_array() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (true) {
      void* raw = nullptr;
      BOOST_REQUIRE(redisReaderGetReply(reader_.get(), &raw) == REDIS_OK);
      if (raw) {
        auto* r = static_cast<redisReply*>(raw);
        std::vector<std::string> out;
        for (std::size_t i = 0; i < r->elements; ++i) {
          const auto* e = r->element[i];
          out.push_back(e->type == REDIS_REPLY_INTEGER ? std::to_string(e->integer) : std::string(e->str, e->len));
        }
        freeReplyObject(raw);
        return out;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd waiting{fd_, POLLIN, 0};
      BOOST_REQUIRE_MESSAGE(left.count() > 0 && ::poll(&waiting, 1, static_cast<int>(left.count())) == 1,
                            "no event within 5 s");
      char buffer[4096];
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      BOOST_REQUIRE(got > 0);
      BOOST_REQUIRE(redisReaderFeed(reader_.get(), buffer, static_cast<std::size_t>(got)) == REDIS_OK);
    }
  }

  int fd_ = -1;
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader_;
};

storage::login_attempt failure_for(std::string key, std::int64_t now_ms, std::int64_t until_ms) {
  auto a = failure_at(now_ms, 1);
  a.rules[0].counter_key = "login/ip/" + key;
  a.rules[0].block_key = key;
  a.rules[0].block_until_ms = until_ms;
  a.check_keys = {key};
  return a;
}

// The embedded side: blocks in RocksDB, started through embedded_login_attempts, administered
// through embedded_block_directory. Changes are committed as a route does.
struct embedded_block_backend {
  embedded_block_backend() {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    db = std::move(opened).value();
    auto loaded = storage::embedded_blocks::open(*db, t0);
    BOOST_REQUIRE(loaded);
    store = std::move(loaded).value();
    logins = std::make_unique<storage::embedded_login_attempts>(counters, *store);
    blocks = std::make_unique<storage::embedded_block_directory>(*store);
  }
  storage::login_attempt_result record(const storage::login_attempt& attempt) {
    storage::change_set changes;
    auto out = test::wait_for<storage::login_attempt_result>(
        [&](auto done) { logins->record(attempt, changes, done); });
    BOOST_REQUIRE(out);
    if (!changes.ops.empty()) BOOST_REQUIRE(db->write(changes.ops));
    return *out;
  }

  test::temp_directory dir;
  std::unique_ptr<storage::database> db;
  test::memory_rate_counters counters;
  std::unique_ptr<storage::embedded_blocks> store;
  std::unique_ptr<storage::embedded_login_attempts> logins;
  std::unique_ptr<storage::block_directory> blocks;
};

storage::block_directory& directory_of(embedded_block_backend& b) { return *b.blocks; }
storage::block_directory& directory_of(test::redis_backend& b) { return b.blocks; }

template <class T, class Call>
T awaited(Call call) {
  auto out = test::wait_for<T>(call);
  BOOST_REQUIRE(out);
  return *out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_blocks_suite)

BOOST_AUTO_TEST_CASE(a_started_block_is_published_once_and_a_lift_too) {
  test::redis_backend b;
  event_listener events(b.server.port());
  for (int i = 0; i < 4; ++i) BOOST_TEST(b.record(failure_at(t0 + i)).started.empty());
  auto fifth = b.record(failure_at(t0 + 4));
  BOOST_REQUIRE(fifth.started.size() == 1U);
  BOOST_TEST(events.next_message() ==
             R"({"type":"block","key":"192.0.2.9","until_ms":1800003600004,"created_ms":1800000000004,"rule":"ip"})");
  BOOST_TEST(b.record(failure_at(t0 + 5)).started.empty());  // no second start, no second event
  storage::change_set changes;
  auto lifted = awaited<std::optional<storage::block_entry>>(
      [&](auto done) { b.blocks.lift("192.0.2.9", t0 + 6, changes, done); });
  BOOST_REQUIRE(lifted.has_value());
  BOOST_TEST(changes.ops.empty());
  // The next message is the unblock: had the sixth failure published, it would come first.
  BOOST_TEST(events.next_message() == R"({"type":"unblock","key":"192.0.2.9"})");
}

// Another node learns blocks as the production client delivers them: a subscriber on cs:events
// receives the block a failure started elsewhere, then its lift.
BOOST_AUTO_TEST_CASE(a_subscribed_node_receives_the_block_and_the_unblock) {
  test::redis_backend b;
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<std::string> messages;
  redis::client_options options;
  options.address = {"127.0.0.1", b.server.port()};
  redis::client_callbacks callbacks;
  callbacks.message = [&](std::string_view channel, std::string_view message) {
    std::lock_guard lock(mutex);
    if (channel == "cs:events") messages.emplace_back(message);
    arrived.notify_all();
  };
  auto other_node = redis::client::start(options, callbacks, {"cs:events"});
  const auto subscribed_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!other_node->status().subscribed && std::chrono::steady_clock::now() < subscribed_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling an observable state
  }
  BOOST_REQUIRE(other_node->status().subscribed);
  auto started = b.record(failure_for("10.0.0.7", t0, t0 + 60'000));
  BOOST_REQUIRE(started.started.size() == 1U);
  storage::change_set changes;
  BOOST_REQUIRE(awaited<std::optional<storage::block_entry>>(
      [&](auto done) { b.blocks.lift("10.0.0.7", t0 + 1, changes, done); }));
  {
    std::unique_lock lock(mutex);
    BOOST_REQUIRE(arrived.wait_for(lock, std::chrono::seconds(5), [&] { return messages.size() >= 2U; }));
    BOOST_TEST(messages[0] ==
               R"({"type":"block","key":"10.0.0.7","until_ms":1800000060000,"created_ms":1800000000000,"rule":"ip"})");
    BOOST_TEST(messages[1] == R"({"type":"unblock","key":"10.0.0.7"})");
  }
  other_node->stop();
}

using block_backends = boost::mpl::list<embedded_block_backend, test::redis_backend>;

BOOST_AUTO_TEST_CASE_TEMPLATE(blocks_are_listed_found_and_lifted, B, block_backends) {
  B b;
  storage::block_directory& directory = directory_of(b);
  b.record(failure_for("b-key", t0, t0 + 60'000));
  b.record(failure_for("a-key", t0, t0 + 120'000));
  b.record(failure_for("short", t0, t0 + 1'000));
  auto listed = awaited<std::vector<storage::block_entry>>([&](auto done) { directory.list(t0 + 2'000, done); });
  BOOST_REQUIRE(listed.size() == 2U);  // "short" has ended
  BOOST_TEST((listed[0] == storage::block_entry{"a-key", t0 + 120'000, t0, "ip"}));
  BOOST_TEST((listed[1] == storage::block_entry{"b-key", t0 + 60'000, t0, "ip"}));
  auto found = awaited<std::optional<storage::block_entry>>([&](auto done) { directory.find("b-key", t0 + 2'000, done); });
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(found->until_ms == t0 + 60'000);
  BOOST_TEST(!awaited<std::optional<storage::block_entry>>([&](auto done) { directory.find("short", t0 + 2'000, done); }));
  storage::change_set changes;
  auto lifted = awaited<std::optional<storage::block_entry>>(
      [&](auto done) { directory.lift("b-key", t0 + 3'000, changes, done); });
  BOOST_REQUIRE(lifted.has_value());
  BOOST_TEST(lifted->key == "b-key");
  BOOST_TEST(!awaited<std::optional<storage::block_entry>>(
      [&](auto done) { directory.lift("b-key", t0 + 3'000, changes, done); }));
  BOOST_TEST(!awaited<std::optional<storage::block_entry>>([&](auto done) { directory.find("b-key", t0 + 3'000, done); }));
  listed = awaited<std::vector<storage::block_entry>>([&](auto done) { directory.list(t0 + 3'000, done); });
  BOOST_REQUIRE(listed.size() == 1U);
  BOOST_TEST(listed[0].key == "a-key");
  // A login failure after the lift counts again (limit 1: it blocks again, as a new block).
  auto again = b.record(failure_for("b-key", t0 + 4'000, t0 + 64'000));
  BOOST_REQUIRE(again.started.size() == 1U);
  BOOST_TEST(again.started[0].created_ms == t0 + 4'000);
  if constexpr (std::is_same_v<B, test::redis_backend>) BOOST_TEST(b.counts.block_admin.load() == 7U);
}

BOOST_AUTO_TEST_SUITE_END()
