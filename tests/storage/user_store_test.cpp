// The user directory in storage: paging in id order, removal of a user with its email index
// entry (and nothing else), and an enrollment dropped with the user.
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

#include "storage/authenticator_store.hpp"
#include "storage/database.hpp"
#include "storage/user_store.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {
std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(db).value();
}

void apply(storage::database& db, const storage::change_set& changes) {
  BOOST_REQUIRE(db.write(changes.ops));
}

storage::user_record make_user(const std::string& id) { return {id, id + "@example.com", true, 100, 100}; }

void create(storage::database& db, const storage::user_store& users, const storage::user_record& user) {
  storage::change_set changes;
  BOOST_REQUIRE(users.stage_upsert(user, std::nullopt, changes));
  apply(db, changes);
}

std::vector<std::string> ids_of(const storage::user_page& page) {
  std::vector<std::string> ids;
  for (const auto& user : page.users) {
    ids.push_back(user.id);
  }
  return ids;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(user_store_suite)

BOOST_AUTO_TEST_CASE(list_pages_through_every_user_once_in_id_order) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::user_store users(*db);
  // Inserted out of order; ids with '@', ':', '-' and digits sort by their bytes.
  std::vector<std::string> ids{"m-7", "a@b:c", "Z9", "m-10", "b", "a.x", "c_1"};
  for (const auto& id : ids) {
    create(*db, users, make_user(id));
  }
  std::set<std::string> expected(ids.begin(), ids.end());
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    auto page = users.list(after, 3);
    BOOST_REQUIRE(page);
    ++pages;
    for (const auto& id : ids_of(*page)) {
      seen.push_back(id);
    }
    if (!page->next_after) {
      break;
    }
    BOOST_TEST(*page->next_after == page->users.back().id);
    after = *page->next_after;
  }
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen == std::vector<std::string>(expected.begin(), expected.end()), boost::test_tools::per_element());
  auto first = users.list("", 1);
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(first->users.size() == 1U);
  BOOST_TEST(first->users[0].email == "Z9@example.com");
}

BOOST_AUTO_TEST_CASE(a_full_last_page_has_no_successor) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::user_store users(*db);
  for (const auto& id : {"u1", "u2", "u3", "u4"}) {
    create(*db, users, make_user(id));
  }
  auto first = users.list("", 2);
  BOOST_REQUIRE(first);
  BOOST_TEST(ids_of(*first) == (std::vector<std::string>{"u1", "u2"}), boost::test_tools::per_element());
  BOOST_REQUIRE(first->next_after.has_value());
  auto last = users.list(*first->next_after, 2);
  BOOST_REQUIRE(last);
  BOOST_TEST(ids_of(*last) == (std::vector<std::string>{"u3", "u4"}), boost::test_tools::per_element());
  BOOST_TEST(!last->next_after.has_value());
  auto past = users.list("u4", 2);
  BOOST_REQUIRE(past);
  BOOST_TEST(past->users.empty());
  BOOST_TEST(!past->next_after.has_value());
  auto all = users.list("", 100);
  BOOST_REQUIRE(all);
  BOOST_TEST(all->users.size() == 4U);
  BOOST_TEST(!all->next_after.has_value());
}

BOOST_AUTO_TEST_CASE(a_cursor_whose_user_was_removed_still_continues) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::user_store users(*db);
  for (const auto& id : {"u1", "u2", "u3"}) {
    create(*db, users, make_user(id));
  }
  storage::change_set changes;
  BOOST_REQUIRE(users.stage_remove(make_user("u2"), changes));
  apply(*db, changes);
  auto page = users.list("u2", 10);
  BOOST_REQUIRE(page);
  BOOST_TEST(ids_of(*page) == (std::vector<std::string>{"u3"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(remove_drops_the_record_and_frees_the_email) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::user_store users(*db);
  auto gone = make_user("gone");
  create(*db, users, gone);
  create(*db, users, make_user("stays"));

  storage::change_set changes;
  BOOST_REQUIRE(users.stage_remove(gone, changes));
  // Only the record and its index entry: replay marks, counters and the journal stay.
  for (const auto& op : changes.ops) {
    BOOST_TEST((op.family == storage::column_family::users || op.family == storage::column_family::user_emails));
    BOOST_TEST((op.op == storage::write_op::kind::remove));
  }
  BOOST_TEST(changes.ops.size() == 2U);
  apply(*db, changes);

  auto found = users.find("gone");
  BOOST_REQUIRE(found);
  BOOST_TEST(!found->has_value());
  auto by_email = users.find_by_email("gone@example.com");
  BOOST_REQUIRE(by_email);
  BOOST_TEST(!by_email->has_value());
  auto other = users.find("stays");
  BOOST_REQUIRE(other);
  BOOST_TEST(other->has_value());

  // Another user may take the email now.
  storage::user_record taker{"taker", "gone@example.com", false, 200, 200};
  storage::change_set take;
  BOOST_REQUIRE(users.stage_upsert(taker, std::nullopt, take));
  apply(*db, take);
  auto owner = users.find_by_email("gone@example.com");
  BOOST_REQUIRE(owner);
  BOOST_REQUIRE(owner->has_value());
  BOOST_TEST((*owner)->id == "taker");
}

BOOST_AUTO_TEST_CASE(remove_keeps_an_index_entry_that_names_someone_else) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::user_store users(*db);
  create(*db, users, make_user("owner"));
  // A stale record that still claims owner's email must not take owner's index entry along.
  storage::user_record stale{"stale", "owner@example.com", true, 1, 1};
  BOOST_REQUIRE(db->put(storage::column_family::users, "stale", storage::encode_user(stale)));
  storage::change_set changes;
  BOOST_REQUIRE(users.stage_remove(stale, changes));
  apply(*db, changes);
  auto owner = users.find_by_email("owner@example.com");
  BOOST_REQUIRE(owner);
  BOOST_REQUIRE(owner->has_value());
  BOOST_TEST((*owner)->id == "owner");
}

BOOST_AUTO_TEST_CASE(list_reports_a_corrupt_record) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::user_store users(*db);
  create(*db, users, make_user("fine"));
  BOOST_REQUIRE(db->put(storage::column_family::users, "broken", "not a user record"));
  auto page = users.list("", 10);
  BOOST_REQUIRE(!page);
  BOOST_TEST((page.error().kind == error_kind::internal));
}

BOOST_AUTO_TEST_CASE(authenticator_enrollment_goes_with_the_user) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::authenticator_store authenticators(*db);
  storage::authenticator_record record;
  record.active_sealed = std::string("sealed-active");
  record.pending_sealed = std::string("sealed-pending");
  storage::change_set enroll;
  authenticators.stage_put("u1", record, enroll);
  authenticators.stage_put("u2", record, enroll);
  apply(*db, enroll);
  storage::change_set removal;
  authenticators.stage_remove("u1", removal);
  apply(*db, removal);
  auto removed = authenticators.find("u1");
  BOOST_REQUIRE(removed);
  BOOST_TEST(removed->empty());
  auto kept = authenticators.find("u2");
  BOOST_REQUIRE(kept);
  BOOST_TEST(!kept->empty());
}

BOOST_AUTO_TEST_SUITE_END()
