#include "storage/read_policy.hpp"

#include <boost/test/unit_test.hpp>

#include "storage/database.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {

// A database whose "u1" record is in a table file and nowhere in memory: written, compacted
// into a file, and the database opened again (empty memtables, empty block cache).
std::unique_ptr<storage::database> reopened_with_record_on_disk(const test::temp_directory& dir) {
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    BOOST_REQUIRE((*db)->put(storage::column_family::users, "u1", "record"));
    BOOST_REQUIRE((*db)->put(storage::column_family::replay_marks, "m1", std::string(8, '\0')));
    BOOST_REQUIRE((*db)->compact(storage::column_family::users));
    BOOST_REQUIRE((*db)->compact(storage::column_family::replay_marks));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(*db);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(read_policy_suite)

BOOST_AUTO_TEST_CASE(scopes_nest_and_restore) {
  BOOST_TEST(!storage::reads_must_not_block());
  {
    storage::nonblocking_reads outer;
    BOOST_TEST(storage::reads_must_not_block());
    {
      storage::blocking_reads_allowed lifted;
      BOOST_TEST(!storage::reads_must_not_block());
      storage::nonblocking_reads inner;
      BOOST_TEST(storage::reads_must_not_block());
    }
    BOOST_TEST(storage::reads_must_not_block());
  }
  BOOST_TEST(!storage::reads_must_not_block());
}

BOOST_AUTO_TEST_CASE(a_value_only_on_disk_is_would_block_until_read_once) {
  test::temp_directory dir;
  auto db = reopened_with_record_on_disk(dir);
  {
    storage::nonblocking_reads scope;
    auto cold = db->get(storage::column_family::users, "u1");
    BOOST_REQUIRE(!cold);
    BOOST_TEST((cold.error().kind == error_kind::would_block));
    // An absent key is answered by the Bloom filter, without the file.
    auto absent = db->get(storage::column_family::users, "nobody");
    BOOST_REQUIRE(absent);
    BOOST_TEST(!absent->has_value());
    {
      storage::blocking_reads_allowed may_wait;
      auto read = db->get(storage::column_family::users, "u1");
      BOOST_REQUIRE(read);
      BOOST_TEST(read->value() == "record");
    }
    // The read above put the block in the cache: now it is answered without waiting.
    auto warm = db->get(storage::column_family::users, "u1");
    BOOST_REQUIRE(warm);
    BOOST_TEST(warm->value() == "record");
  }
}

BOOST_AUTO_TEST_CASE(values_in_memtables_never_block) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  BOOST_REQUIRE((*db)->put(storage::column_family::users, "u2", "fresh"));
  storage::nonblocking_reads scope;
  auto read = (*db)->get(storage::column_family::users, "u2");
  BOOST_REQUIRE(read);
  BOOST_TEST(read->value() == "fresh");
}

BOOST_AUTO_TEST_CASE(a_backend_that_would_block_changes_nothing) {
  test::temp_directory dir;
  {
    // alice's phone-token mark at step 5, in a table file.
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    storage::embedded_replay_marks marks(**db);
    storage::change_set changes;
    BOOST_REQUIRE(marks.claim("alice", "phone_token", 5, changes).value());
    BOOST_REQUIRE((*db)->write(changes.ops));
    BOOST_REQUIRE((*db)->compact(storage::column_family::replay_marks));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::embedded_replay_marks marks(**db);
  storage::change_set changes;
  {
    storage::nonblocking_reads scope;
    auto claimed = marks.claim("alice", "phone_token", 6, changes);
    BOOST_REQUIRE(!claimed);
    BOOST_TEST((claimed.error().kind == error_kind::would_block));
    BOOST_TEST(changes.empty());
    BOOST_TEST(marks.cached_marks() == 0U);  // no entry (not even "absent") was remembered
    // A user with no stored mark is answered by the Bloom filter, without the file.
    auto fresh = marks.claim("bob", "phone_token", 6, changes);
    BOOST_REQUIRE(fresh);
    BOOST_TEST(*fresh);
  }
  // Run again where waiting is allowed: the stored mark counts, older steps stay refused.
  BOOST_TEST(marks.claim("alice", "phone_token", 5, changes).value() == false);
  BOOST_TEST(marks.claim("alice", "phone_token", 6, changes).value() == true);
}

BOOST_AUTO_TEST_SUITE_END()
