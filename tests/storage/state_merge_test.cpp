// Changes that reach disk in another order than they were made never move state backwards.
#include <boost/test/unit_test.hpp>

#include "storage/database.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

BOOST_AUTO_TEST_SUITE(state_merge_suite)

BOOST_AUTO_TEST_CASE(replay_mark_keeps_highest_step_when_commits_reorder) {
  test::temp_directory dir;
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    storage::embedded_replay_marks marks(**db);
    storage::change_set first;
    storage::change_set second;
    BOOST_REQUIRE(*marks.claim("u1", "phone_token", 5, first));
    BOOST_REQUIRE(*marks.claim("u1", "phone_token", 6, second));
    // The writer happens to commit the later claim first.
    BOOST_REQUIRE((*db)->write(second.ops));
    BOOST_REQUIRE((*db)->write(first.ops));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::embedded_replay_marks marks(**db);
  auto last = marks.last_step("u1", "phone_token");
  BOOST_REQUIRE(last);
  BOOST_REQUIRE(last->has_value());
  BOOST_TEST(**last == 6U);
  storage::change_set again;
  BOOST_TEST(!*marks.claim("u1", "phone_token", 6, again));
}

BOOST_AUTO_TEST_CASE(counter_keeps_newest_state_when_commits_reorder) {
  test::temp_directory dir;
  const std::int64_t window = 60'000;
  const std::int64_t t = 1'700'000'000'000;
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    storage::embedded_rate_counters counters(**db);
    storage::change_set a;
    storage::change_set b;
    storage::change_set c;
    BOOST_REQUIRE(counters.add("k", 1, t, window, a));
    BOOST_REQUIRE(counters.add("k", 1, t + 10, window, b));
    BOOST_REQUIRE(counters.add("k", 1, t + 20, window, c));
    BOOST_REQUIRE((*db)->write(c.ops));
    BOOST_REQUIRE((*db)->write(a.ops));
    BOOST_REQUIRE((*db)->write(b.ops));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::embedded_rate_counters counters(**db);
  auto estimate = counters.estimate("k", t + 30, window);
  BOOST_REQUIRE(estimate);
  BOOST_TEST(estimate->window.current + estimate->window.previous == 3);
}

BOOST_AUTO_TEST_SUITE_END()
