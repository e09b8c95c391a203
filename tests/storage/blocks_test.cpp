// Blocks in the embedded backend: extend, find, list, lift, survive a restart, and commits
// that reach disk out of order never move a block backwards.
#include <boost/test/unit_test.hpp>

#include "storage/block_record.hpp"
#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {
constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t hour = 3'600'000;

std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(db).value();
}

std::unique_ptr<storage::embedded_blocks> open_blocks(storage::database& db, std::int64_t now) {
  auto b = storage::embedded_blocks::open(db, now);
  BOOST_REQUIRE(b);
  return std::move(b).value();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(blocks_suite)

BOOST_AUTO_TEST_CASE(record_round_trips_and_rejects_damage) {
  storage::block_record r{7, t0 + hour, t0, -1, "login-ip"};
  auto decoded = storage::decode_block_record(storage::encode_block_record(r));
  BOOST_REQUIRE(decoded);
  BOOST_TEST((*decoded == r));
  auto text = storage::encode_block_record(r);
  BOOST_TEST(!storage::decode_block_record(text.substr(0, 20)));
  text[0] = 2;
  BOOST_TEST(!storage::decode_block_record(text));
}

BOOST_AUTO_TEST_CASE(block_is_found_until_it_ends) {
  test::temp_directory dir;
  auto db = open_db(dir);
  auto blocks = open_blocks(*db, t0);
  storage::change_set changes;
  auto set = blocks->block("203.0.113.7", t0 + hour, "login-ip", t0, changes);
  BOOST_REQUIRE(set);
  BOOST_TEST(changes.ops.size() == 1U);
  BOOST_TEST(set->started);
  BOOST_TEST(set->entry.retry_after_seconds(t0) == 3600);
  auto found = blocks->find("203.0.113.7", t0 + hour - 1);
  BOOST_REQUIRE(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->rule == "login-ip");
  BOOST_TEST((*found)->retry_after_seconds(t0 + hour - 1) == 1);
  auto after = blocks->find("203.0.113.7", t0 + hour);
  BOOST_REQUIRE(after);
  BOOST_TEST(!after->has_value());
  auto listed = blocks->list(t0 + hour);
  BOOST_REQUIRE(listed);
  BOOST_TEST(listed->empty());
}

BOOST_AUTO_TEST_CASE(later_until_extends_and_earlier_changes_nothing) {
  test::temp_directory dir;
  auto db = open_db(dir);
  auto blocks = open_blocks(*db, t0);
  storage::change_set changes;
  BOOST_REQUIRE(blocks->block("k", t0 + hour, "a", t0, changes));
  auto shorter = blocks->block("k", t0 + 10, "b", t0 + 5, changes);
  BOOST_REQUIRE(shorter);
  BOOST_TEST(shorter->entry.until_ms == t0 + hour);
  BOOST_TEST(!shorter->started);
  BOOST_TEST(changes.ops.size() == 1U);  // nothing written for the shorter one
  auto longer = blocks->block("k", t0 + 2 * hour, "c", t0 + 6, changes);
  BOOST_REQUIRE(longer);
  BOOST_TEST(longer->entry.until_ms == t0 + 2 * hour);
  BOOST_TEST(longer->entry.created_ms == t0);
  BOOST_TEST(longer->entry.rule == "c");
  BOOST_TEST(!longer->started);
}

BOOST_AUTO_TEST_CASE(blocks_survive_reopening_and_lift_is_durable) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    auto blocks = open_blocks(*db, t0);
    storage::change_set changes;
    BOOST_REQUIRE(blocks->block("a", t0 + hour, "r", t0, changes));
    BOOST_REQUIRE(blocks->block("b", t0 + hour, "r", t0, changes));
    BOOST_REQUIRE(blocks->block("short", t0 + 1000, "r", t0, changes));
    BOOST_REQUIRE(db->write(changes.ops));
  }
  {
    auto db = open_db(dir);
    auto blocks = open_blocks(*db, t0 + 2000);
    auto listed = blocks->list(t0 + 2000);
    BOOST_REQUIRE(listed);
    BOOST_REQUIRE(listed->size() == 2U);  // "short" has ended
    BOOST_TEST((*listed)[0].key == "a");
    BOOST_TEST((*listed)[1].key == "b");
    storage::change_set changes;
    auto lifted = blocks->lift("a", t0 + 3000, changes);
    BOOST_REQUIRE(lifted);
    BOOST_REQUIRE(lifted->has_value());
    BOOST_TEST((*lifted)->key == "a");
    auto again = blocks->lift("a", t0 + 3001, changes);
    BOOST_REQUIRE(again);
    BOOST_TEST(!again->has_value());
    auto none = blocks->lift("never", t0 + 3001, changes);
    BOOST_REQUIRE(none);
    BOOST_TEST(!none->has_value());
    BOOST_TEST(changes.ops.size() == 1U);
    BOOST_REQUIRE(db->write(changes.ops));
  }
  auto db = open_db(dir);
  auto blocks = open_blocks(*db, t0 + 4000);
  auto a = blocks->find("a", t0 + 4000);
  BOOST_REQUIRE(a);
  BOOST_TEST(!a->has_value());
  auto b = blocks->find("b", t0 + 4000);
  BOOST_REQUIRE(b);
  BOOST_TEST(b->has_value());
}

BOOST_AUTO_TEST_CASE(lift_committed_before_the_block_it_ended_still_wins) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    auto blocks = open_blocks(*db, t0);
    storage::change_set first;
    storage::change_set second;
    BOOST_REQUIRE(blocks->block("k", t0 + hour, "r", t0, first));
    BOOST_REQUIRE(blocks->lift("k", t0, second));  // same millisecond: revisions still order them
    BOOST_REQUIRE(db->write(second.ops));
    BOOST_REQUIRE(db->write(first.ops));
  }
  auto db = open_db(dir);
  auto blocks = open_blocks(*db, t0 + 1);
  auto found = blocks->find("k", t0 + 1);
  BOOST_REQUIRE(found);
  BOOST_TEST(!found->has_value());
  // Blocking again after the lift works and outranks the tombstone on disk.
  storage::change_set changes;
  BOOST_REQUIRE(blocks->block("k", t0 + hour, "r", t0 + 1, changes));
  BOOST_REQUIRE(db->write(changes.ops));
  blocks.reset();
  auto reopened = open_blocks(*db, t0 + 2);
  auto back = reopened->find("k", t0 + 2);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->has_value());
}

BOOST_AUTO_TEST_CASE(extension_committed_first_is_not_undone_by_the_older_block) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    auto blocks = open_blocks(*db, t0);
    storage::change_set first;
    storage::change_set second;
    BOOST_REQUIRE(blocks->block("k", t0 + hour, "r", t0, first));
    BOOST_REQUIRE(blocks->block("k", t0 + 2 * hour, "r", t0, second));
    BOOST_REQUIRE(db->write(second.ops));
    BOOST_REQUIRE(db->write(first.ops));
  }
  auto db = open_db(dir);
  auto blocks = open_blocks(*db, t0 + 1);
  auto found = blocks->find("k", t0 + hour + 1);
  BOOST_REQUIRE(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->until_ms == t0 + 2 * hour);
}

BOOST_AUTO_TEST_CASE(expired_entries_leave_memory_and_bad_arguments_are_refused) {
  test::temp_directory dir;
  auto db = open_db(dir);
  auto blocks = open_blocks(*db, t0);
  storage::change_set changes;
  BOOST_REQUIRE(blocks->block("k", t0 + 1000, "r", t0, changes));
  BOOST_TEST(blocks->sweep(t0 + 999) == 0U);
  BOOST_TEST(blocks->sweep(t0 + 1000) == 1U);
  BOOST_TEST(!blocks->block("", t0 + 1000, "r", t0, changes));
  BOOST_TEST(!blocks->block("k", t0, "r", t0, changes));
  BOOST_TEST(!blocks->block("k", t0 + 1, "", t0, changes));
  BOOST_TEST(!blocks->find(std::string(storage::max_block_key + 1, 'x'), t0));
}

BOOST_AUTO_TEST_SUITE_END()
