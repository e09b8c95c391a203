// The embedded user directory beyond the shared contract: records from before versions, reads
// that never wait for the disk on the caller's thread, the cache, and writes serialized per key
// while the first one is still on its way to disk.
#include <boost/test/unit_test.hpp>

#include <deque>

#include "storage/authenticator_store.hpp"
#include "storage/user_store.hpp"
#include "user_directory_test_support.hpp"

using namespace callsign;

namespace {
// A commit sink that holds every change until the test lets it through.
class held_sink final : public storage::commit_sink {
 public:
  explicit held_sink(storage::database& db) : db_(db) {}
  void submit(storage::change_set change, std::function<void(result<storage::commit_receipt>)> done) override {
    held_.push_back({std::move(change), std::move(done)});
  }
  storage::group_commit_stats stats() const noexcept override { return {}; }
  std::size_t held() const { return held_.size(); }
  void release_one() {
    auto next = std::move(held_.front());
    held_.pop_front();
    BOOST_REQUIRE(db_.write(next.first.ops));
    next.second(storage::commit_receipt{});
  }

 private:
  storage::database& db_;
  std::deque<std::pair<storage::change_set, std::function<void(result<storage::commit_receipt>)>>> held_;
};

storage::user_record user(const std::string& id, const std::string& email) { return {id, email, true, 100, 200}; }

storage::authenticator_record enrollment() {
  storage::authenticator_record record;
  record.pending_sealed = std::string("sealed-bytes");
  record.pending_since = 5;
  return record;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(embedded_user_directory_suite)

BOOST_AUTO_TEST_CASE(records_written_before_versions_read_as_version_one) {
  test::embedded_directories b;
  // The "u1" and "a1" formats, as a data dir from before versions holds them.
  BOOST_REQUIRE(b.db->put(storage::column_family::users, "old", "u1\nold@example.com\n1\n100\n200"));
  BOOST_REQUIRE(b.db->put(storage::column_family::user_emails, "old@example.com", "old"));
  BOOST_REQUIRE(b.db->put(storage::column_family::authenticators, "old", "a1\n-\n0\n0a0b\n7"));
  // As at a start over such a data dir: the authenticator directory reads the ids it holds.
  b.authenticator_dir = std::make_unique<storage::embedded_authenticator_directory>(*b.db, *b.writer, b.blocking,
                                                                                    *b.user_dir);
  auto found = test::find_user(b.users, "old");
  BOOST_REQUIRE(found);
  BOOST_TEST(found->version == 1U);
  BOOST_TEST(found->record.email == "old@example.com");
  BOOST_TEST(found->record.updated_at == 200);
  auto enrollment = test::find_authenticator(*b.authenticator_dir, "old");
  BOOST_TEST(enrollment.version == 1U);
  BOOST_TEST(enrollment.record.pending_since == 7);
  BOOST_TEST(*test::put_user(b.users, user("old", "old@example.com"), 1) == 2U);
  auto bytes = b.db->get(storage::column_family::users, "old");
  BOOST_TEST(bytes->value().substr(0, 5) == "u2\n2\n");
}

// The authenticator directory reads RocksDB only for ids that may have a record: those on disk
// when it was built, and those it enrolled since.
BOOST_AUTO_TEST_CASE(authenticator_reads_are_skipped_for_ids_that_never_enrolled) {
  test::embedded_directories b;
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE(test::put_user(b.users, user("bob", "bob@example.com"), 0));
  BOOST_TEST(*test::put_authenticator(b.authenticators, "ann", enrollment(), 0) == 1U);
  BOOST_TEST(test::find_authenticator(b.authenticators, "ann").version == 1U);
  // A record put behind the directory's back (nothing in callsignd does this) for an id it
  // never enrolled is not seen: proof that such a find reads nothing.
  storage::change_set sneaked;
  storage::authenticator_store(*b.db).stage_put("bob", enrollment(), sneaked, 1);
  BOOST_REQUIRE(b.db->write(sneaked.ops));
  BOOST_TEST(test::find_authenticator(b.authenticators, "bob").version == 0U);
  BOOST_TEST(test::find_authenticator(b.authenticators, "bob").record.empty());

  // A directory built over the same data reads both ids, and still finds ann after a removal
  // and a new enrollment through it.
  b.authenticator_dir = std::make_unique<storage::embedded_authenticator_directory>(*b.db, *b.writer, b.blocking,
                                                                                    *b.user_dir);
  auto& rebuilt = *b.authenticator_dir;
  BOOST_TEST(test::find_authenticator(rebuilt, "bob").version == 1U);
  BOOST_TEST(*test::put_authenticator(rebuilt, "ann", {}, 1) == 0U);
  BOOST_TEST(test::find_authenticator(rebuilt, "ann").record.empty());
  BOOST_TEST(*test::put_authenticator(rebuilt, "ann", enrollment(), 0) == 1U);
  BOOST_TEST(test::find_authenticator(rebuilt, "ann").version == 1U);
}

BOOST_AUTO_TEST_CASE(a_cold_read_goes_to_the_blocking_executor_and_then_hits_the_cache) {
  test::embedded_directories b;
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE(b.db->compact(storage::column_family::users));  // only in a table file now
  BOOST_REQUIRE(b.db->compact(storage::column_family::user_emails));
  storage::embedded_user_directory fresh(*b.db, *b.writer, b.blocking);  // an empty cache
  b.blocking_runs = 0;
  auto cold = test::find_user(fresh, "ann");
  BOOST_TEST(cold->version == 1U);
  BOOST_TEST(b.blocking_runs.load() == 1);  // the read would have waited for the disk
  auto hot = test::find_user(fresh, "ann");
  BOOST_TEST(hot->record.email == "ann@example.com");
  auto by_email = test::wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { fresh.find_by_email("ann@example.com", std::move(done)); });
  BOOST_TEST((*by_email)->record.id == "ann");
  BOOST_TEST(b.blocking_runs.load() == 1);  // both answered from the cache, inline
}

// callsignd warms the cache at start. What it cached is served from memory: a record changed
// behind the directory's back (nothing in callsignd does this) is not seen for a warmed user,
// and is for the user beyond the cache's size, who was not warmed.
BOOST_AUTO_TEST_CASE(warming_fills_the_cache_in_id_order_up_to_its_size) {
  test::embedded_directories b;
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE(test::put_user(b.users, user("ann", "ann2@example.com"), 1));
  BOOST_REQUIRE(test::put_user(b.users, user("bob", "bob@example.com"), 0));
  BOOST_REQUIRE(test::put_user(b.users, user("cat", "cat@example.com"), 0));
  storage::embedded_user_directory fresh(*b.db, *b.writer, b.blocking, 2);
  auto warmed = fresh.warm_cache();
  BOOST_REQUIRE(warmed);
  BOOST_TEST(*warmed == 2U);

  for (const char* id : {"ann", "bob", "cat"}) {
    storage::user_record changed = user(id, std::string(id) + "@sneaked.example");
    BOOST_REQUIRE(b.db->put(storage::column_family::users, id, storage::encode_user(changed, 9)));
  }
  auto ann = test::find_user(fresh, "ann");
  BOOST_TEST(ann->version == 2U);
  BOOST_TEST(ann->record.email == "ann2@example.com");
  auto by_email = test::wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { fresh.find_by_email("ann2@example.com", std::move(done)); });
  BOOST_TEST((*by_email)->record.id == "ann");
  BOOST_TEST(test::find_user(fresh, "bob")->record.email == "bob@example.com");
  auto cat = test::find_user(fresh, "cat");
  BOOST_TEST(cat->version == 9U);
  BOOST_TEST(cat->record.email == "cat@sneaked.example");

  storage::embedded_user_directory off(*b.db, *b.writer, b.blocking, 0);
  BOOST_TEST(*off.warm_cache() == 0U);
}

BOOST_AUTO_TEST_CASE(a_second_write_to_a_key_in_flight_waits_for_it_and_nothing_blocks) {
  test::embedded_directories b;
  held_sink sink(*b.db);
  storage::embedded_user_directory users(*b.db, sink, b.blocking);
  std::optional<result<std::uint64_t>> first;
  users.put(user("ann", "ann@example.com"), 0, {}, [&](result<std::uint64_t> r) { first = std::move(r); });
  BOOST_TEST(!first.has_value());  // waiting for its commit, and this thread is free
  BOOST_REQUIRE(sink.held() == 1U);

  // Two more writes from the same (empty) read: one to ann's id, one taking ann's email. Both
  // wait for the first without a thread waiting: the calls return at once, unanswered.
  std::optional<result<std::uint64_t>> same_id, same_email;
  users.put(user("ann", "other@example.com"), 0, {}, [&](result<std::uint64_t> r) { same_id = std::move(r); });
  users.put(user("bob", "ann@example.com"), 0, {}, [&](result<std::uint64_t> r) { same_email = std::move(r); });
  BOOST_TEST(!same_id.has_value());
  BOOST_TEST(!same_email.has_value());
  BOOST_TEST(sink.held() == 1U);  // nothing else was submitted

  sink.release_one();
  BOOST_REQUIRE(first && *first);
  BOOST_TEST(**first == 1U);
  // Once the first is durable, the waiting writes read what it left: ann is at version 1 and
  // owns the email, so both are conflicts and write nothing.
  BOOST_REQUIRE(same_id && same_email);
  BOOST_TEST(same_id->error().message == "the user changed since it was read; read it again");
  BOOST_TEST(same_email->error().message == "that email belongs to another user");
  BOOST_TEST(sink.held() == 0U);
  // A write from the new version goes through, and the old email is free again.
  std::optional<result<std::uint64_t>> after;
  users.put(user("ann", "ann2@example.com"), 1, {}, [&](result<std::uint64_t> r) { after = std::move(r); });
  sink.release_one();
  BOOST_TEST(**after == 2U);
  BOOST_TEST(!b.db->get(storage::column_family::user_emails, "ann@example.com")->has_value());
}

BOOST_AUTO_TEST_CASE(a_failed_commit_frees_the_keys_and_changes_nothing) {
  test::embedded_directories b;
  b.writer->stop();  // a stopped writer answers unavailable
  auto refused = test::put_user(*b.user_dir, user("ann", "ann@example.com"), 0);
  BOOST_TEST(static_cast<int>(refused.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(!test::find_user(b.users, "ann"));
  auto again = test::put_user(*b.user_dir, user("ann", "ann@example.com"), 0);
  BOOST_TEST(static_cast<int>(again.error().kind) == static_cast<int>(error_kind::unavailable));  // not "busy"
}

BOOST_AUTO_TEST_SUITE_END()
