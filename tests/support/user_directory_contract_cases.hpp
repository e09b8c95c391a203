// The user and authenticator directory contract as shared test cases: versions, conditional
// writes, the email index under racing writers, a deleted user's enrollment. Included by one
// .cpp per set of backends, which first defines
//   using user_directory_contract_backends = boost::mpl::list<...>;
// at global scope: each backend is default-constructible (a fresh, empty directory) and has
// members `storage::user_directory& users` and `storage::authenticator_directory& authenticators`.
// tests/storage/user_directory_contract_test.cpp runs it over the embedded backend and the
// in-memory fake, tests/shared_state/redis_user_directory_contract_test.cpp over Redis.
#pragma once

#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "storage/authenticator_directory.hpp"
#include "storage/user_directory.hpp"
#include "storage/user_directory_test_support.hpp"
#include "support/completion_wait.hpp"

namespace user_directory_contract_cases {

using namespace callsign;
using test::wait_for;

inline storage::user_record user(const std::string& id, const std::string& email) {
  return {id, email, true, 100, 200};
}

template <class Backend>
std::optional<storage::stored_user> by_email(Backend& b, const std::string& email) {
  auto found =
      wait_for<std::optional<storage::stored_user>>([&](auto done) { b.users.find_by_email(email, std::move(done)); });
  BOOST_REQUIRE(found);
  return *found;
}

// The id the email index names (through find_by_email), or "(nobody)".
template <class Backend>
std::string owner_of(Backend& b, const std::string& email) {
  auto found = by_email(b, email);
  return found ? found->record.id : "(nobody)";
}

template <class Backend>
std::string email_of(Backend& b, const std::string& id) {
  auto found = test::find_user(b.users, id);
  return found ? found->record.email : "(no such user)";
}

inline storage::authenticator_record enrolled() {
  storage::authenticator_record record;
  record.pending_sealed = std::string("sealed-bytes");
  record.pending_since = 5;
  return record;
}

// Starts `count` threads that each run call(i) at once (after a shared start line).
inline void race(int count, const std::function<void(int)>& call) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < count) std::this_thread::yield();
      call(i);
    });
  }
  for (auto& t : threads) t.join();
}

BOOST_AUTO_TEST_SUITE(user_directory_contract)

BOOST_AUTO_TEST_CASE_TEMPLATE(versions_count_writes_and_a_stale_version_writes_nothing, Backend,
                              user_directory_contract_backends) {
  Backend b;
  BOOST_TEST(*test::put_user(b.users, user("ann", "ann@example.com"), 0) == 1U);
  auto stale = test::put_user(b.users, user("ann", "other@example.com"), 0);
  BOOST_REQUIRE(!stale);
  BOOST_TEST(static_cast<int>(stale.error().kind) == static_cast<int>(error_kind::conflict));
  BOOST_TEST(test::find_user(b.users, "ann")->record.email == "ann@example.com");
  BOOST_TEST(!by_email(b, "other@example.com"));

  BOOST_TEST(*test::put_user(b.users, user("ann", "ann2@example.com"), 1) == 2U);
  auto now = test::find_user(b.users, "ann");
  BOOST_TEST(now->version == 2U);
  BOOST_TEST(now->record.email == "ann2@example.com");
  BOOST_TEST(by_email(b, "ann2@example.com")->record.id == "ann");
  BOOST_TEST(!by_email(b, "ann@example.com"));  // the old index entry went with the change
  BOOST_TEST(!test::find_user(b.users, "nobody"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_email_belongs_to_one_user, Backend, user_directory_contract_backends) {
  Backend b;
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "shared@example.com"), 0));
  auto taken = test::put_user(b.users, user("bob", "shared@example.com"), 0);
  BOOST_REQUIRE(!taken);
  BOOST_TEST(static_cast<int>(taken.error().kind) == static_cast<int>(error_kind::conflict));
  BOOST_TEST(!test::find_user(b.users, "bob"));
  BOOST_TEST(by_email(b, "shared@example.com")->record.id == "ann");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(remove_is_conditional_and_takes_the_enrollment_along, Backend,
                              user_directory_contract_backends) {
  Backend b;
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann@example.com"), 0));
  BOOST_TEST(*test::put_authenticator(b.authenticators, "ann", enrolled(), 0) == 1U);
  auto missing = test::remove_user(b.users, "nobody", 1);
  BOOST_TEST(static_cast<int>(missing.error().kind) == static_cast<int>(error_kind::not_found));
  auto stale = test::remove_user(b.users, "ann", 2);
  BOOST_TEST(static_cast<int>(stale.error().kind) == static_cast<int>(error_kind::conflict));
  BOOST_TEST(test::find_user(b.users, "ann").has_value());

  BOOST_REQUIRE(test::remove_user(b.users, "ann", 1));
  BOOST_TEST(!test::find_user(b.users, "ann"));
  BOOST_TEST(!by_email(b, "ann@example.com"));
  BOOST_TEST(test::find_authenticator(b.authenticators, "ann").version == 0U);
  // A re-created id starts over, without the old enrollment.
  BOOST_TEST(*test::put_user(b.users, user("ann", "ann@example.com"), 0) == 1U);
  BOOST_TEST(test::find_authenticator(b.authenticators, "ann").record.empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(authenticator_writes_are_conditional_and_need_the_user, Backend,
                              user_directory_contract_backends) {
  Backend b;
  auto orphan = test::put_authenticator(b.authenticators, "ghost", enrolled(), 0);
  BOOST_TEST(static_cast<int>(orphan.error().kind) == static_cast<int>(error_kind::not_found));
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann@example.com"), 0));
  BOOST_TEST(*test::put_authenticator(b.authenticators, "ann", enrolled(), 0) == 1U);
  auto stale = test::put_authenticator(b.authenticators, "ann", enrolled(), 0);
  BOOST_TEST(static_cast<int>(stale.error().kind) == static_cast<int>(error_kind::conflict));
  auto found = test::find_authenticator(b.authenticators, "ann");
  BOOST_TEST(found.version == 1U);
  BOOST_TEST(*found.record.pending_sealed == "sealed-bytes");
  BOOST_TEST(*test::put_authenticator(b.authenticators, "ann", {}, 1) == 0U);  // removed
  BOOST_TEST(test::find_authenticator(b.authenticators, "ann").version == 0U);
}

// Two admins move two users to one email at once: exactly one wins, and the index names the
// winner, whose record holds the email; the loser's record is unchanged.
BOOST_AUTO_TEST_CASE_TEMPLATE(two_users_racing_for_one_email_leave_one_owner, Backend,
                              user_directory_contract_backends) {
  Backend b;
  for (int round = 0; round < 25; ++round) {
    const std::string a = "a" + std::to_string(round), c = "c" + std::to_string(round);
    const std::string target = "target" + std::to_string(round) + "@example.com";
    BOOST_REQUIRE(test::put_user(b.users, user(a, a + "@example.com"), 0));
    BOOST_REQUIRE(test::put_user(b.users, user(c, c + "@example.com"), 0));
    std::vector<result<std::uint64_t>> outcomes(2, make_error(error_kind::internal, "unset"));
    race(2, [&](int i) {
      outcomes[static_cast<std::size_t>(i)] = test::put_user(b.users, user(i == 0 ? a : c, target), 1);
    });
    BOOST_REQUIRE_MESSAGE((outcomes[0].has_value() != outcomes[1].has_value()),
                          "round " << round << ": exactly one wins");
    const std::string winner = outcomes[0] ? a : c, loser = outcomes[0] ? c : a;
    BOOST_TEST(owner_of(b, target) == winner);
    BOOST_TEST(email_of(b, winner) == target);
    BOOST_TEST(email_of(b, loser) == loser + "@example.com");
    BOOST_TEST(owner_of(b, loser + "@example.com") == loser);
    BOOST_TEST(owner_of(b, winner + "@example.com") == "(nobody)");
  }
}

// Several admins update one user from the same read: one write wins, the others are conflicts,
// also those that arrive after the winner is durable (the version check, not only the lock).
BOOST_AUTO_TEST_CASE_TEMPLATE(updates_from_one_read_let_exactly_one_through, Backend,
                              user_directory_contract_backends) {
  Backend b;
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann@example.com"), 0));
  std::uint64_t version = 1;
  for (int round = 0; round < 25; ++round) {
    std::atomic<int> wins{0}, conflicts{0};
    race(6, [&](int i) {
      auto email = "ann" + std::to_string(round) + "-" + std::to_string(i) + "@example.com";
      auto done = test::put_user(b.users, user("ann", email), version);
      if (done)
        ++wins;
      else if (done.error().kind == error_kind::conflict)
        ++conflicts;
    });
    BOOST_TEST(wins.load() == 1, "round " << round);
    BOOST_TEST(conflicts.load() == 5);
    // Late writers with the old version are refused too: this one runs after the winner.
    BOOST_TEST(!test::put_user(b.users, user("ann", "late@example.com"), version));
    version = test::find_user(b.users, "ann")->version;
    BOOST_TEST(version == static_cast<std::uint64_t>(round) + 2);
  }
}

// Two admins create one id at once with different emails: exactly one wins, the record holds the
// winner's email, the index names it, and the loser's email is indexed to nobody.
BOOST_AUTO_TEST_CASE_TEMPLATE(two_creators_of_one_id_leave_one_record_and_one_email, Backend,
                              user_directory_contract_backends) {
  Backend b;
  for (int round = 0; round < 25; ++round) {
    const std::string id = "new" + std::to_string(round);
    const std::string emails[2] = {id + "-x@example.com", id + "-y@example.com"};
    std::vector<result<std::uint64_t>> outcomes(2, make_error(error_kind::internal, "unset"));
    race(2, [&](int i) {
      auto slot = static_cast<std::size_t>(i);
      outcomes[slot] = test::put_user(b.users, user(id, emails[slot]), 0);
    });
    BOOST_REQUIRE_MESSAGE((outcomes[0].has_value() != outcomes[1].has_value()), "round " << round << ": one wins");
    const std::size_t winner = outcomes[0] ? 0 : 1;
    BOOST_TEST(static_cast<int>(outcomes[1 - winner].error().kind) == static_cast<int>(error_kind::conflict));
    BOOST_TEST(email_of(b, id) == emails[winner]);
    BOOST_TEST(owner_of(b, emails[winner]) == id);
    BOOST_TEST(owner_of(b, emails[1 - winner]) == "(nobody)");
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(list_pages_in_id_order, Backend, user_directory_contract_backends) {
  Backend b;
  for (const char* id : {"m", "b", "z", "a"}) {
    BOOST_REQUIRE(test::put_user(b.users, user(id, std::string(id) + "@example.com"), 0));
  }
  auto first = wait_for<storage::user_page>([&](auto done) { b.users.list("", 3, std::move(done)); });
  BOOST_REQUIRE(first);
  BOOST_TEST(first->users.size() == 3U);
  BOOST_TEST(first->users[0].id == "a");
  BOOST_TEST(*first->next_after == "m");
  auto rest = wait_for<storage::user_page>([&](auto done) { b.users.list("m", 3, std::move(done)); });
  BOOST_TEST(rest->users.size() == 1U);
  BOOST_TEST(rest->users[0].id == "z");
  BOOST_TEST(!rest->next_after);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace user_directory_contract_cases
