// The node's copy of shared blocks: events in any order keep the latest end, a lift or an
// unblock event removes, a reload replaces everything, and nothing is ever persisted.
#include <boost/test/unit_test.hpp>
#include <string>

#include "storage/block_cache.hpp"

using namespace callsign;
using namespace callsign::storage;

BOOST_AUTO_TEST_SUITE(block_cache_suite)

BOOST_AUTO_TEST_CASE(blocks_extend_and_are_started_once) {
  block_cache cache;
  change_set changes;
  auto first = cache.block("login/ip/192.0.2.1", 10'000, "ip", 1'000, changes);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->started);
  auto again = cache.block("login/ip/192.0.2.1", 20'000, "ip-long", 2'000, changes);
  BOOST_REQUIRE(again);
  BOOST_TEST(!again->started);
  BOOST_TEST(again->entry.until_ms == 20'000);
  BOOST_TEST(again->entry.created_ms == 1'000);
  BOOST_TEST(changes.ops.empty());
  auto found = cache.find("login/ip/192.0.2.1", 19'999);
  BOOST_REQUIRE(found);
  BOOST_TEST(found->has_value());
  BOOST_TEST(!cache.find("login/ip/192.0.2.1", 20'000)->has_value());
}

BOOST_AUTO_TEST_CASE(events_keep_the_latest_end_and_unblock_removes) {
  block_cache cache;
  cache.apply(block_entry{"k", 30'000, 1'000, "r"});
  cache.apply(block_entry{"k", 20'000, 1'000, "r"});  // an older event arriving late
  BOOST_TEST(cache.find("k", 25'000)->value().until_ms == 30'000);
  cache.remove("k");
  BOOST_TEST(!cache.find("k", 25'000)->has_value());
}

BOOST_AUTO_TEST_CASE(a_reload_replaces_everything_and_lists_only_active) {
  block_cache cache;
  change_set changes;
  BOOST_REQUIRE(cache.block("old", 50'000, "r", 0, changes));
  cache.replace_all({block_entry{"a", 10'000, 0, "r"}, block_entry{"b", 40'000, 0, "r"}});
  BOOST_TEST(!cache.find("old", 1)->has_value());
  auto listed = cache.list(20'000);
  BOOST_REQUIRE(listed);
  BOOST_REQUIRE(listed->size() == 1U);
  BOOST_TEST(listed->front().key == "b");
  auto lifted = cache.lift("b", 20'000, changes);
  BOOST_REQUIRE(lifted);
  BOOST_TEST(lifted->has_value());
  BOOST_TEST(!cache.lift("b", 20'000, changes)->has_value());
  BOOST_TEST(changes.ops.empty());
}

BOOST_AUTO_TEST_CASE(a_reload_keeps_what_changed_while_the_list_was_read) {
  // After a reconnect the list is read on one connection while events keep arriving on another:
  // a block, an unblock or this node's own change after the request must survive the list,
  // which may have been read before it. Keys nobody touched take the list's state.
  block_cache cache;
  change_set changes;
  cache.apply(block_entry{"a", 50'000, 0, "r"});
  cache.apply(block_entry{"stale", 50'000, 0, "r"});  // before the request: the list decides
  const auto ticket = cache.begin_reload();
  cache.apply(block_entry{"b", 50'000, 1'000, "r"});        // a block event after the request
  cache.remove("a");                                        // an unblock event after it
  BOOST_REQUIRE(cache.block("c", 50'000, "r", 1'000, changes));  // this node's own block
  cache.apply(block_entry{"e", 70'000, 1'000, "r"});        // a longer end than the list's
  cache.replace_all({block_entry{"a", 50'000, 0, "r"}, block_entry{"d", 60'000, 0, "r"},
                     block_entry{"e", 40'000, 0, "r"}},
                    ticket);
  BOOST_TEST(!cache.find("a", 2'000)->has_value());  // the unblock stands
  BOOST_TEST(cache.find("b", 2'000)->has_value());
  BOOST_TEST(cache.find("c", 2'000)->has_value());
  BOOST_TEST(cache.find("d", 2'000)->has_value());   // from the list
  BOOST_TEST(cache.find("e", 2'000)->value().until_ms == 70'000);
  BOOST_TEST(!cache.find("stale", 2'000)->has_value());
  // The next reload starts afresh: what changed before it is the list's to decide.
  const auto next = cache.begin_reload();
  cache.replace_all({block_entry{"d", 60'000, 0, "r"}}, next);
  BOOST_TEST(!cache.find("b", 2'000)->has_value());
  BOOST_TEST(cache.size() == 1U);
  // A reload that failed is abandoned; the one after it still keeps later changes.
  const auto failed = cache.begin_reload();
  cache.abandon_reload(failed);
  const auto retried = cache.begin_reload();
  cache.apply(block_entry{"f", 50'000, 3'000, "r"});
  cache.replace_all({}, retried);
  BOOST_TEST(cache.find("f", 4'000)->has_value());
  BOOST_TEST(cache.size() == 1U);
}

BOOST_AUTO_TEST_CASE(expired_blocks_leave_memory_as_new_ones_come) {
  // Blocks that come and go, by event from other nodes and set here, as a long attack of fresh
  // usernames makes them: the copy stays near the blocks in force, never one entry per block
  // ever seen (before, only a reconnect's reload dropped them: gigabytes per node per hour).
  block_cache cache;
  change_set changes;
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t at = 1'000 + i * 10;
    if (i % 2 == 0) {
      cache.apply(block_entry{"event/" + std::to_string(i), at + 100, at, "r"});  // 10 in force at a time
    } else {
      BOOST_REQUIRE(cache.block("here/" + std::to_string(i), at + 100, "r", at, changes));
    }
    BOOST_REQUIRE(cache.size() <= 128U);
  }
  // The blocks in force are all still there.
  const std::int64_t last = 1'000 + 19'999 * 10;
  BOOST_TEST(cache.find("here/19999", last)->has_value());
  BOOST_TEST(cache.find("event/19998", last)->has_value());
  BOOST_TEST(cache.find("event/19990", last)->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
