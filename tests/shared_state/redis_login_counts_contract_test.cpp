// The login counts contract (support/login_counts_contract_cases.hpp) over Redis
// (shared_state/redis_login_counts.hpp) on a real redis-server, through the blocking test client
// and through the production client, counted by callsign_login_record; then what only Redis
// needs: the Function is read-only (FCALL_RO, no write, served by a replica), one round trip per
// read, and a Redis that is away or answers nonsense is an error, never a count of 0.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "redis_backend_fixture.hpp"
#include "shared_state/redis_login_counts.hpp"

using namespace callsign;

namespace {

template <class Connection>
struct counts_on : test::redis_backend_on<Connection> {
  // The fixture's round-trip counters (`counts`) count these reads too.
  shared_state::redis_login_counts reader{this->client, &this->counts};

  result<void> read(std::int64_t now_ms, std::span<const storage::count_read> keys, std::span<double> out) {
    // A count needs its round trip: only a call with nothing to ask, or bad arguments, answers at once.
    if (auto at_once = reader.read_inline(now_ms, keys, out)) BOOST_REQUIRE(keys.empty() || !*at_once);
    return test::wait_for<void>([&](auto done) { reader.read(now_ms, keys, out, done); });
  }
};

using login_counts_backends =
    boost::mpl::list<counts_on<test::blocking_connection>, counts_on<test::production_connection>>;

// INFO persistence's rdb_changes_since_last_save: every write adds to it.
long long changes_since_save(test::redis_process& server) {
  const auto info = server.command({"INFO", "persistence"});
  const std::string field = "rdb_changes_since_last_save:";
  const auto at = info.find(field);
  BOOST_REQUIRE(at != std::string::npos);
  return std::stoll(info.substr(at + field.size()));
}

}  // namespace

#include "support/login_counts_contract_cases.hpp"  // IWYU pragma: keep

BOOST_AUTO_TEST_SUITE(redis_login_counts_suite)

using namespace callsign::test::login_counts_contract;

BOOST_AUTO_TEST_CASE(the_read_is_fcall_ro_and_writes_nothing) {
  counts_on<test::blocking_connection> b;
  for (int i = 0; i < 3; ++i) b.record(failure(t0 + i, ip_counter, {5, 60'000}));
  const std::string redis_key = "cs:w:" + ip_counter;
  const auto stored = b.server.command({"GET", redis_key});
  const auto before = changes_since_save(b.server);
  // Another window and kind (measured on an adapted copy), and a key never counted.
  const std::vector<storage::count_read> keys{{ip_counter, {5, 60'000}},
                                              {ip_counter, {5000, 30'000}},
                                              {"login\x1fip\x1f"
                                               "198.51.100.7",
                                               {5, 60'000}}};
  std::vector<double> out(keys.size());
  BOOST_REQUIRE(b.read(t0 + 10, keys, out));
  BOOST_TEST(out[0] == 3.0);
  BOOST_TEST(out[2] == 0.0);
  BOOST_TEST(changes_since_save(b.server) == before);
  BOOST_TEST(b.server.command({"GET", redis_key}) == stored);
  BOOST_TEST(b.server.command({"EXISTS",
                               "cs:w:login\x1fip\x1f"
                               "198.51.100.7"}) == ":0\r\n");
  // The Function itself, as a client sends it: FCALL_RO is accepted only for a no-writes
  // Function, and a plain FCALL of it is just as read-only.
  const auto direct =
      b.server.command({"FCALL_RO", "callsign_login_counts", "1", redis_key, std::to_string(t0 + 10), "5", "60000"});
  BOOST_TEST(direct == "*1\r\n$1\r\n3\r\n");
  BOOST_TEST(b.server.command({"FCALL_RO", "callsign_login_record", "0", "1", "0", "0", "0"}).rfind("-ERR", 0) == 0);
  BOOST_TEST(changes_since_save(b.server) == before);
}

BOOST_AUTO_TEST_CASE(a_replica_answers_the_read) {
  counts_on<test::blocking_connection> b;
  for (int i = 0; i < 2; ++i) b.record(failure(t0 + i, ip_counter, {5, 60'000}));
  test::temp_directory dir;
  test::redis_process replica(
      dir.path(), {.name = "replica", .config_lines = {"replicaof 127.0.0.1 " + std::to_string(b.server.port())}});
  // The replica has the counter once its link is up and the key arrived (an observable state).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (replica.command({"EXISTS", "cs:w:" + ip_counter}) != ":1\r\n" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_REQUIRE(replica.command({"EXISTS", "cs:w:" + ip_counter}) == ":1\r\n");
  test::blocking_redis_client to_replica(replica.port());
  shared_state::redis_login_counts counts(to_replica);
  const std::vector<storage::count_read> keys{{ip_counter, {5, 60'000}}};
  std::vector<double> out(1);
  auto read = test::wait_for<void>([&](auto done) { counts.read(t0 + 10, keys, out, done); });
  BOOST_REQUIRE_MESSAGE(read, (read ? std::string() : read.error().message));
  BOOST_TEST(out[0] == 2.0);
  BOOST_TEST(replica.stop() == 0);
}

BOOST_AUTO_TEST_CASE(one_round_trip_per_read_and_none_without_keys) {
  counts_on<test::blocking_connection> b;
  const auto execs = b.client.execs();
  const std::vector<storage::count_read> keys{{ip_counter, {5, 60'000}}, {ip_counter + "x", {9, 1000}}};
  std::vector<double> out(2);
  BOOST_REQUIRE(b.read(t0, keys, out));
  BOOST_TEST(b.client.execs() - execs == 1U);
  BOOST_TEST(b.counts.login_counts.load() == 1U);
  BOOST_REQUIRE(b.read(t0, {}, {}));
  const std::vector<storage::count_read> bad{{"", {5, 60'000}}};
  BOOST_TEST(!b.read(t0, bad, std::span<double>(out).first(1)));
  BOOST_TEST(b.client.execs() - execs == 1U);
  BOOST_TEST(b.counts.login_counts.load() == 1U);
}

BOOST_AUTO_TEST_CASE(a_stopped_redis_is_unavailable_not_zero) {
  test::temp_directory dir;
  test::redis_process lone(dir.path(), {.name = "lone"});
  test::blocking_redis_client client(lone.port());
  shared_state::redis_login_counts counts(client);
  BOOST_REQUIRE_EQUAL(lone.stop(), 0);
  const std::vector<storage::count_read> keys{{ip_counter, {5, 60'000}}};
  std::vector<double> out{-1.0};
  auto read = test::wait_for<void>([&](auto done) { counts.read(t0, keys, out, done); });
  BOOST_REQUIRE(!read);
  BOOST_TEST(static_cast<int>(read.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(read.error().message == "shared state unavailable");
}

BOOST_AUTO_TEST_CASE(unexpected_replies_and_corrupt_counters_are_internal) {
  counts_on<test::blocking_connection> b;
  const std::vector<storage::count_read> keys{{ip_counter, {5, 60'000}}};
  std::vector<double> out(1);
  using kind = redis::reply::kind;
  const std::vector<std::vector<redis::reply>> shapes = {
      {redis::reply{kind::integer, 0, {}, {}}},                                      // not an array
      {redis::reply{kind::array, 0, {}, {}}},                                        // no count
      {redis::reply{kind::array, 0, {}, {redis::reply{kind::integer, 0, {}, {}}}}},  // not a decimal string
      {redis::reply{kind::array, 0, {}, {redis::reply{kind::string, 0, "-1", {}}}}},
      {redis::reply{kind::array, 0, {}, {redis::reply{kind::string, 0, "3x", {}}}}},
  };
  for (const auto& shape : shapes) {
    b.client.fail_next(shape);
    auto read = b.read(t0, keys, out);
    BOOST_REQUIRE(!read);
    BOOST_TEST(static_cast<int>(read.error().kind) == static_cast<int>(error_kind::internal));
  }
  BOOST_REQUIRE(b.server.command({"SET", "cs:w:" + ip_counter, "l,60000,x"}) == "+OK\r\n");
  auto read = b.read(t0, keys, out);
  BOOST_REQUIRE(!read);
  BOOST_TEST(static_cast<int>(read.error().kind) == static_cast<int>(error_kind::internal));
}

BOOST_AUTO_TEST_SUITE_END()
