// evaluate_login_check over real lists (parsed IP and device sets) and the real failed-login
// limiter (embedded counters and blocks in a temp RocksDB), without sockets. The breach sets
// are covered end to end by tests/integration/login_check_test.py with CLI-built files.
#include "server/login/login_check.hpp"

#include <boost/test/unit_test.hpp>

#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/lists/device_set.hpp"
#include "storage/lists/ip_set_parser.hpp"
#include "support/login_recording.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::int64_t t0 = 1'700'000'040'000;

struct world {
  world()
      : db(open_db(dir)), counters(*db), blocks(open_blocks(*db)), limiter(config, master(), counters, *blocks) {
    auto proxies = storage::parse_ip_set("# test\n203.0.113.0/24\n2001:db8:5::/48\n198.51.100.7:8080\n");
    BOOST_REQUIRE(proxies);
    auto devices = storage::device_set::parse("SN-1\nSN-2\n");
    BOOST_REQUIRE(devices);
    lists.open_proxies = std::make_shared<const storage::ip_set>(std::move(proxies).value());
    lists.managed_devices = std::make_shared<const storage::device_set>(std::move(devices).value());
  }
  static crypto::master_key master() {
    crypto::master_key key;
    key.version = 1;
    key.bytes.fill(0x42);
    return key;
  }
  static std::unique_ptr<storage::database> open_db(const test::temp_directory& d) {
    auto db = storage::database::open({d.path() / "db", true});
    BOOST_REQUIRE(db);
    return std::move(db).value();
  }
  static std::unique_ptr<storage::embedded_blocks> open_blocks(storage::database& db) {
    auto b = storage::embedded_blocks::open(db, t0);
    BOOST_REQUIRE(b);
    return std::move(b).value();
  }
  login_signals check(const list_snapshot* snapshot, std::string_view ip, std::optional<std::string_view> user = {},
                      std::optional<std::string_view> serial = {}, std::int64_t now = t0) {
    login_check_input input;
    auto parsed = parse_ip_address(ip);
    BOOST_REQUIRE(parsed);
    input.address = *parsed;
    input.normalized_username = user;
    input.device_serial = serial;
    input.password = std::string_view("pw");
    auto out = evaluate_login_check(snapshot, limiter, input, now);
    BOOST_REQUIRE(out);
    return *out;
  }

  test::temp_directory dir;
  login_config config;
  std::unique_ptr<storage::database> db;
  storage::embedded_rate_counters counters;
  std::unique_ptr<storage::embedded_blocks> blocks;
  login_limiter limiter;
  list_snapshot lists;
};
}  // namespace

BOOST_AUTO_TEST_SUITE(login_check_suite)

BOOST_AUTO_TEST_CASE(no_lists_means_no_list_signal) {
  world w;
  auto out = w.check(nullptr, "203.0.113.9", "alice", "SN-1");
  BOOST_TEST(!out.open_proxy);
  BOOST_TEST(!out.managed_device);
  BOOST_TEST(!out.exposed_credential);
  BOOST_TEST(!out.exposed_password);
  BOOST_TEST(out.exposed_credential_check == exposed_check_none);
  auto empty = w.check(&w.lists, "192.0.2.1");  // loaded lists, but breach sets absent
  BOOST_TEST(!empty.exposed_credential);
  BOOST_TEST(!empty.exposed_password);
}

BOOST_AUTO_TEST_CASE(open_proxies_by_prefix_and_mapped_form) {
  world w;
  BOOST_TEST(w.check(&w.lists, "203.0.113.200").open_proxy);
  BOOST_TEST(w.check(&w.lists, "::ffff:203.0.113.5").open_proxy);
  BOOST_TEST(w.check(&w.lists, "198.51.100.7").open_proxy);
  BOOST_TEST(!w.check(&w.lists, "198.51.100.8").open_proxy);
  BOOST_TEST(w.check(&w.lists, "2001:db8:5:ffff::1").open_proxy);
  BOOST_TEST(!w.check(&w.lists, "2001:db8:6::1").open_proxy);
}

BOOST_AUTO_TEST_CASE(devices_exactly) {
  world w;
  BOOST_TEST(w.check(&w.lists, "192.0.2.1", {}, std::string_view("SN-2")).managed_device);
  BOOST_TEST(!w.check(&w.lists, "192.0.2.1", {}, std::string_view("sn-2")).managed_device);
  BOOST_TEST(!w.check(&w.lists, "192.0.2.1").managed_device);
}

BOOST_AUTO_TEST_CASE(blocks_from_failed_logins_with_retry_after) {
  world w;
  for (int i = 0; i < 5; ++i) {
    storage::change_set changes;
    auto out = test::record_inline(w.limiter, *parse_ip_address("192.0.2.50"), "alice", false, t0 + i, changes);
    BOOST_REQUIRE(out);
    if (!changes.ops.empty()) BOOST_REQUIRE(w.db->write(changes.ops));
  }
  auto by_ip = w.check(&w.lists, "192.0.2.50", std::string_view("bob"), {}, t0 + 10);
  BOOST_TEST(by_ip.blocked);
  BOOST_TEST(by_ip.retry_after_seconds >= 3599);
  BOOST_TEST(by_ip.retry_after_seconds <= 3600);
  auto by_user = w.check(&w.lists, "192.0.2.51", std::string_view("alice"), {}, t0 + 10);
  BOOST_TEST(by_user.blocked);
  auto neither = w.check(&w.lists, "192.0.2.51", std::string_view("bob"), {}, t0 + 10);
  BOOST_TEST(!neither.blocked);
  BOOST_TEST(neither.retry_after_seconds == 0);
  // The block ends after block_seconds.
  auto later = w.check(&w.lists, "192.0.2.50", std::string_view("bob"), {}, t0 + 3'601'000);
  BOOST_TEST(!later.blocked);
}

BOOST_AUTO_TEST_SUITE_END()
