// The counters compaction filter: after CompactRange, expired sliding-window and block
// records are gone and live ones (and other record kinds) are untouched.
#include <boost/test/unit_test.hpp>
#include <chrono>

#include "storage/block_record.hpp"
#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/shared_state_format.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

namespace {
constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t minute = 60'000;

std::chrono::system_clock::time_point at(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

bool present(storage::database& db, const std::string& key) {
  auto got = db.get(column_family::counters, key);
  BOOST_REQUIRE(got);
  return got->has_value();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(compaction_filter_suite)

BOOST_AUTO_TEST_CASE(drops_expired_counters_and_blocks_only) {
  test::temp_directory dir;
  storage::manual_clock clock(at(t0));
  storage::database_options options{dir.path() / "db", true, &clock};
  auto db = storage::database::open(options);
  BOOST_REQUIRE(db);
  {
    storage::embedded_rate_counters counters(**db);
    auto blocks = storage::embedded_blocks::open(**db, t0);
    BOOST_REQUIRE(blocks);
    storage::change_set changes;
    // Merge operands (what the backends write) and plain values (what older versions wrote).
    BOOST_REQUIRE(counters.add("old", 3, t0, {5, minute}, changes));                 // an exact log
    BOOST_REQUIRE(counters.add("old-estimated", 3, t0, {5'000, minute}, changes));    // an estimate
    BOOST_REQUIRE(counters.add("recent", 3, t0 + 5 * minute / 2, {5, minute}, changes));
    BOOST_REQUIRE((*blocks)->block("ended", t0 + minute, "r", t0, changes));
    BOOST_REQUIRE((*blocks)->block("lasting", t0 + 60 * minute, "r", t0, changes));
    changes.put(column_family::counters, storage::sliding_window_record_key("old-put"),
                storage::encode_sliding_window(storage::sliding_window_counter{minute, t0 - t0 % minute, 1, 1}));
    changes.put(column_family::counters, storage::block_record_key("ended-put"),
                storage::encode_block_record(storage::block_record{t0, t0 + 1, t0, -1, "r"}));
    changes.put(column_family::counters, "x-other-kind", "kept");
    changes.put(column_family::counters, storage::sliding_window_record_key("damaged"), "not a record");
    BOOST_REQUIRE((*db)->write(changes.ops));
  }
  // Before time moves nothing is expired: everything survives a compaction.
  BOOST_REQUIRE((*db)->compact(column_family::counters));
  BOOST_TEST(present(**db, storage::sliding_window_record_key("old")));
  BOOST_TEST(present(**db, storage::block_record_key("ended")));

  // "old" is a log whose events are a window old; "old-estimated" and "old-put" (format 1)
  // counted in the window starting near t0, expired two windows later. "recent" and "lasting"
  // are still live at t0 + 3 minutes.
  clock.set(at(t0 + 3 * minute));
  BOOST_REQUIRE((*db)->compact(column_family::counters));
  BOOST_TEST(!present(**db, storage::sliding_window_record_key("old")));
  BOOST_TEST(!present(**db, storage::sliding_window_record_key("old-put")));
  BOOST_TEST(!present(**db, storage::sliding_window_record_key("old-estimated")));
  BOOST_TEST(!present(**db, storage::block_record_key("ended")));
  BOOST_TEST(!present(**db, storage::block_record_key("ended-put")));
  BOOST_TEST(present(**db, storage::sliding_window_record_key("recent")));
  BOOST_TEST(present(**db, storage::block_record_key("lasting")));
  BOOST_TEST(present(**db, "x-other-kind"));
  BOOST_TEST(present(**db, storage::sliding_window_record_key("damaged")));

  // The survivors still decode to what was written.
  auto lasting = (*db)->get(column_family::counters, storage::block_record_key("lasting"));
  BOOST_REQUIRE(lasting);
  auto record = storage::decode_block_record(lasting->value());
  BOOST_REQUIRE(record);
  BOOST_TEST(record->until_ms == t0 + 60 * minute);
}

BOOST_AUTO_TEST_CASE(without_a_clock_nothing_is_dropped) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::change_set changes;
  changes.put(column_family::counters, storage::block_record_key("ended"),
              storage::encode_block_record(storage::block_record{1, 2, 1, -1, "r"}));
  BOOST_REQUIRE((*db)->write(changes.ops));
  BOOST_REQUIRE((*db)->compact(column_family::counters));
  BOOST_TEST(present(**db, storage::block_record_key("ended")));
}

BOOST_AUTO_TEST_SUITE_END()
