// embedded_rate_counters::load_live: every live counter read into memory at start, so that a key
// never counted costs no disk read, without losing a count a previous process left on disk.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "rate_counters_support.hpp"
#include "storage/database.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/shared_state_format.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

namespace {

using test::rate_counters::five;
using test::rate_counters::open_db;
using test::rate_counters::sneak;
using test::rate_counters::start;
using test::rate_counters::window;

// A previous process's counts: two live events on "verify/user/live", one long expired.
void previous_process(const test::temp_directory& dir) {
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  BOOST_REQUIRE(counters.add("verify/user/old", 1, start - 3 * window, five, changes));
  BOOST_REQUIRE(counters.add("verify/user/live", 2, start + 1'000, five, changes));
  BOOST_REQUIRE(db->write(changes.ops));
}

// The node after the restart: the previous process's database reopened, with counters whose
// horizon (two windows after `now`) is far off, so that without the load a miss reads the disk.
struct restarted {
  explicit restarted(std::int64_t now) {
    previous_process(dir);
    db = open_db(dir);
    counters = std::make_unique<storage::embedded_rate_counters>(*db);
    counters->started_at(now);
  }
  test::temp_directory dir;
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::embedded_rate_counters> counters;  // destroyed before db
};

double count(storage::embedded_rate_counters& counters, const std::string& key, std::int64_t now_ms) {
  auto estimate = counters.estimate(key, now_ms, five);
  BOOST_REQUIRE(estimate);
  return estimate->value;
}

}  // namespace

BOOST_AUTO_TEST_CASE(loaded_counters_spare_every_later_miss_its_disk_read) {
  const std::int64_t now = start + 2'000;
  restarted node(now);
  auto& counters = *node.counters;
  auto& db = node.db;
  auto loaded = counters.load_live(now);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(*loaded == 1u);  // the expired count stays on disk for the compaction filter
  BOOST_TEST(counters.cached_counters() == 1u);
  BOOST_TEST(count(counters, "verify/user/live", now) == 2.0);

  sneak(*db, "verify/user/sneaked", now);
  BOOST_TEST(count(counters, "verify/user/sneaked", now + 1) == 0.0);  // a miss: empty, unread
  storage::change_set changes;
  auto first = counters.add("verify/user/sneaked", 1, now + 2, five, changes);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->value == 1.0);

  // Without the load the same miss reads the disk and finds the record.
  storage::embedded_rate_counters unloaded(*db);
  unloaded.started_at(now);
  BOOST_TEST(count(unloaded, "verify/user/sneaked", now + 1) == 3.0);
}

// The load may run while requests are served: a counter they already changed is newer than the
// load's snapshot and stays as it is.
BOOST_AUTO_TEST_CASE(a_count_changed_before_the_load_keeps_its_newer_value) {
  const std::int64_t now = start + 3'000;
  restarted node(now);
  auto& counters = *node.counters;
  storage::change_set changes;  // never written: the disk keeps the previous process's two
  auto added = counters.add("verify/user/live", 1, now, five, changes);
  BOOST_REQUIRE(added);
  BOOST_TEST(added->value == 3.0);
  auto loaded = counters.load_live(now);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(*loaded == 0u);
  BOOST_TEST(count(counters, "verify/user/live", now) == 3.0);
}

// A corrupt record fails the load, without naming the key, and misses keep reading the disk.
BOOST_AUTO_TEST_CASE(a_corrupt_record_fails_the_load_and_misses_still_read_the_disk) {
  const std::int64_t now = start + 2'000;
  restarted node(now);
  auto& counters = *node.counters;
  auto& db = node.db;
  BOOST_REQUIRE(
      db->put(column_family::counters, storage::sliding_window_record_key("verify/user/secret-id"), "\x01junk"));
  auto loaded = counters.load_live(now);
  BOOST_REQUIRE(!loaded);
  BOOST_TEST(loaded.error().message.find("secret-id") == std::string::npos);
  sneak(*db, "verify/user/sneaked", now);
  BOOST_TEST(count(counters, "verify/user/sneaked", now + 1) == 3.0);
  BOOST_TEST(count(counters, "verify/user/live", now + 1) == 2.0);
}
