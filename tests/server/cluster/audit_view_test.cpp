// The cross-node audit view (server/cluster/audit_view.hpp, docs/audit.md "Several nodes"): the
// writer's on_durable hook on a real journal, the XADD each entry becomes, the cursor rule, the
// range commands, and the reading of range replies (tampered, foreign or malformed items are
// skipped). Over a small stand-in for the client here; a real 3-node cluster in
// tests/integration/cluster_audit_view_test.py.
#include "server/cluster/audit_view.hpp"

#include <boost/test/unit_test.hpp>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/sha256.hpp"
#include "redis/client.hpp"
#include "storage/audit_links_support.hpp"  // tests/storage: node_journal

using namespace callsign;

namespace {

storage::durable_audit_entry durable(std::uint64_t seq, const storage::audit_draft& draft, std::string_view node) {
  const storage::audit_hash prev{};
  std::string stored = storage::encode_audit_entry(seq, prev, draft, node);
  const auto hash = crypto::sha256(stored);
  return {seq, draft.subject, std::move(stored), hash};
}

redis::reply text(std::string s) {
  return {redis::reply::kind::string, 0, std::move(s), {}};
}

redis::reply item(std::string id, std::vector<std::string> fields) {
  redis::reply pairs{redis::reply::kind::array, 0, {}, {}};
  for (auto& f : fields) pairs.elements.push_back(text(std::move(f)));
  return {redis::reply::kind::array, 0, {}, {text(std::move(id)), std::move(pairs)}};
}

redis::reply range(std::vector<redis::reply> items) {
  return {redis::reply::kind::array, 0, {}, std::move(items)};
}

// Records sends and execs; answers every exec with `answer`.
class recording_client final : public redis::client {
 public:
  void exec(std::vector<redis::command> commands, storage::completion<std::vector<redis::reply>> done) override {
    {
      const std::lock_guard lock(mutex);
      execs.push_back(commands);
    }
    done(std::vector<redis::reply>{answer});
  }
  void send(redis::command cmd) override {
    const std::lock_guard lock(mutex);
    sent.push_back(std::move(cmd));
  }
  redis::client_status status() const override { return {}; }
  std::uint64_t round_trips() const override { return 0; }
  void stop() override {}

  std::mutex mutex;
  std::vector<redis::command> sent;
  std::vector<std::vector<redis::command>> execs;
  redis::reply answer = range({});
};

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_view_suite)

BOOST_AUTO_TEST_CASE(the_writer_hands_each_durable_group_to_on_durable_after_its_completions) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  const auto ring = test::fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::mutex mutex;
  std::vector<std::string> order;
  std::vector<storage::durable_audit_entry> seen;
  auto options = test::checkpoints(0, 0);
  options.node_id = "node-a";
  options.on_durable = [&](std::vector<storage::durable_audit_entry> entries) {
    const std::lock_guard lock(mutex);
    order.emplace_back("durable");
    for (auto& e : entries) seen.push_back(std::move(e));
  };
  auto writer = storage::group_commit_writer::start(**db, ring, clock, options);
  BOOST_REQUIRE(writer);

  storage::change_set change = test::change_with(test::draft_for("alice"));
  auto link = test::draft_for("");  // no subject: handed over too; the view skips it
  change.add_audit(link);
  auto probe = test::draft_for("made-up-id");  // a verify of an id no user has
  probe.subject_exists = false;
  change.add_audit(probe);
  std::promise<void> done;
  (*writer)->submit(std::move(change), [&](result<storage::commit_receipt> receipt) {
    BOOST_CHECK(receipt);
    const std::lock_guard lock(mutex);
    order.emplace_back("completion");
    done.set_value();
  });
  done.get_future().wait();
  (*writer)->stop();  // joins the writer thread: the hook has run

  BOOST_TEST((order == std::vector<std::string>{"completion", "durable"}));
  BOOST_REQUIRE(seen.size() == 3U);
  BOOST_TEST(seen[0].seq == 1U);
  BOOST_TEST(seen[0].subject == "alice");
  BOOST_TEST(seen[1].seq == 2U);
  BOOST_TEST(seen[1].subject.empty());
  // Journaled under its subject, but no per-user stream anywhere: made-up ids cannot fill Redis.
  BOOST_TEST(seen[2].subject.empty());
  BOOST_TEST(!server::audit_stream_append(seen[2], "node-a"));
  // What the hook saw is exactly what the journal stores, and its JSON is the API's.
  storage::audit_journal journal(**db);
  for (const auto& e : seen) {
    auto stored = journal.at(e.seq);
    BOOST_REQUIRE(stored && stored->has_value());
    BOOST_TEST(server::durable_entry_json(e) == storage::audit_entry_json(**stored));
    BOOST_TEST((*stored)->node == "node-a");
  }
}

BOOST_AUTO_TEST_CASE(a_failed_group_reaches_no_hook) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  const auto ring = test::fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  int calls = 0;
  auto options = test::checkpoints(0, 0);
  options.on_durable = [&](std::vector<storage::durable_audit_entry>) { ++calls; };
  options.fault_injector = [] { return result<void>(make_error(error_kind::storage_failed, "injected")); };
  auto writer = storage::group_commit_writer::start(**db, ring, clock, options);
  BOOST_REQUIRE(writer);
  BOOST_TEST(!(*writer)->commit(test::change_with(test::draft_for("alice"))));
  (*writer)->stop();
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(an_entry_about_a_user_becomes_one_capped_xadd) {
  auto alice = durable(7, test::draft_for("alice"), "node-b");
  auto command = server::audit_stream_append(alice, "node-b");
  BOOST_REQUIRE(command);
  BOOST_TEST((*command == redis::command{"XADD", "cs:{u:alice}:audit", "MAXLEN", "~", "1000", "*", "node", "node-b",
                                         "seq", "7", "entry", server::durable_entry_json(alice)}));
  BOOST_TEST(!server::audit_stream_append(durable(8, test::draft_for(""), "node-b"), "node-b"));
  BOOST_TEST(!server::audit_stream_append(durable(9, test::draft_for("a{b}"), "node-b"), "node-b"));
  BOOST_TEST(!server::audit_stream_append(alice, ""));
}

BOOST_AUTO_TEST_CASE(retention_trims_the_view_by_time_and_expires_an_idle_one) {
  const auto commands = server::audit_stream_retention("alice", 1700000000123, 3600);
  BOOST_REQUIRE(commands.size() == 2U);
  // Stream ids are milliseconds: everything before now - retention goes.
  BOOST_TEST((commands[0] == redis::command{"XTRIM", "cs:{u:alice}:audit", "MINID", "~", "1699996400123"}));
  BOOST_TEST((commands[1] == redis::command{"PEXPIRE", "cs:{u:alice}:audit", "3600000"}));
  BOOST_TEST(server::audit_stream_retention("alice", 5000, 3600)[0][4] == "0");  // never a negative id
}

BOOST_AUTO_TEST_CASE(a_cursor_is_a_stream_id_and_nothing_else) {
  for (const char* good : {"0-0", "1700000000123-0", "1700000000123-42"}) {
    BOOST_TEST(server::valid_audit_cursor(good), good);
  }
  for (const char* bad :
       {"", "-", "1-", "-1", "12", "1-2-3", "+", "(1-0", "1-0 ", "a-0", "1-0\r\nFLUSHALL", "123456789012345678901-0"}) {
    BOOST_TEST(!server::valid_audit_cursor(bad), bad);
  }
}

BOOST_AUTO_TEST_CASE(reads_are_one_range_command_exclusive_of_the_cursor) {
  using server::audit_order;
  BOOST_TEST((*server::audit_stream_read("al", audit_order::newest_first, std::nullopt, 50) ==
              redis::command{"XREVRANGE", "cs:{u:al}:audit", "+", "-", "COUNT", "50"}));
  BOOST_TEST((*server::audit_stream_read("al", audit_order::newest_first, std::string("5-1"), 2) ==
              redis::command{"XREVRANGE", "cs:{u:al}:audit", "(5-1", "-", "COUNT", "2"}));
  BOOST_TEST((*server::audit_stream_read("al", audit_order::oldest_first, std::nullopt, 100) ==
              redis::command{"XRANGE", "cs:{u:al}:audit", "-", "+", "COUNT", "100"}));
  BOOST_TEST((*server::audit_stream_read("al", audit_order::oldest_first, std::string("5-1"), 3) ==
              redis::command{"XRANGE", "cs:{u:al}:audit", "(5-1", "+", "COUNT", "3"}));
}

BOOST_AUTO_TEST_CASE(a_cursor_at_the_end_of_its_direction_reads_nothing_and_asks_redis_nothing) {
  // Redis refuses "(0-0" as XREVRANGE's exclusive start and the largest id as XRANGE's (ERR
  // invalid ... ID for the interval): such a cursor is an empty last page, not a 503.
  using server::audit_order;
  const std::string largest = "18446744073709551615-18446744073709551615";
  BOOST_TEST(!server::audit_stream_read("al", audit_order::newest_first, std::string("0-0"), 50));
  BOOST_TEST(!server::audit_stream_read("al", audit_order::newest_first, std::string("00-000"), 50));
  BOOST_TEST(!server::audit_stream_read("al", audit_order::oldest_first, largest, 50));
  BOOST_TEST(server::audit_stream_read("al", audit_order::oldest_first, std::string("0-0"), 50).has_value());
  BOOST_TEST(server::audit_stream_read("al", audit_order::newest_first, largest, 50).has_value());
  BOOST_TEST(server::audit_stream_read("al", audit_order::newest_first, std::string("0-1"), 50).has_value());
}

BOOST_AUTO_TEST_CASE(a_range_reply_shows_only_intact_entries_of_the_user_each_with_its_node) {
  const auto a = durable(3, test::draft_for("alice"), "node-a");
  const auto c = durable(9, test::draft_for("alice"), "node-c");
  auto tampered = server::durable_entry_json(durable(4, test::draft_for("alice"), "node-a"));
  tampered.replace(tampered.find("valid"), 5, "VALID");  // the bytes no longer hash to "hash"
  const auto bob = durable(5, test::draft_for("bob"), "node-b");
  const auto reply = range({
      item("10-0", {"node", "node-a", "seq", "3", "entry", server::durable_entry_json(a)}),
      item("11-0", {"node", "node-a", "seq", "4", "entry", tampered}),
      item("12-0", {"node", "node-b", "seq", "5", "entry", server::durable_entry_json(bob)}),
      item("13-0", {"node", "node-b", "seq", "9", "entry", server::durable_entry_json(c)}),  // names another node
      item("14-0", {"node", "node-a"}),
      text("not an item"),
      item("15-0", {"seq", "9", "node", "node-c", "entry", server::durable_entry_json(c)}),
  });
  auto page = server::parse_audit_stream(reply, "alice", 7);
  BOOST_REQUIRE(page);
  BOOST_REQUIRE(page->entries.size() == 2U);
  BOOST_TEST(page->entries[0].node == "node-a");
  BOOST_TEST(page->entries[0].seq == 3U);
  BOOST_TEST(page->entries[1].node == "node-c");
  BOOST_TEST(page->skipped == 5U);
  BOOST_TEST(page->next_cursor.value_or("") == "15-0");  // a full page: skipped items count too

  auto short_page = server::parse_audit_stream(reply, "alice", 8);
  BOOST_REQUIRE(short_page);
  BOOST_TEST(!short_page->next_cursor);
  BOOST_TEST(!server::parse_audit_stream(text("OK"), "alice", 1));

  const auto json = server::audit_view_page_json(*page);
  BOOST_TEST(json == "{\"entries\":[" + server::durable_entry_json(a) + "," + server::durable_entry_json(c) +
                         "],\"next_cursor\":\"15-0\"}");
  BOOST_TEST(server::audit_view_page_json(*short_page).ends_with("\"next_cursor\":null}"));
}

BOOST_AUTO_TEST_CASE(the_view_sends_only_while_attached_and_reads_through_one_exec) {
  recording_client client;
  server::audit_view view("node-a");
  std::vector<storage::durable_audit_entry> group{durable(1, test::draft_for("alice"), "node-a"),
                                                  durable(2, test::draft_for(""), "node-a")};
  view.publish(group);  // not attached yet: dropped
  bool unavailable = false;
  view.read("alice", server::audit_order::newest_first, std::nullopt, 5, [&](result<server::audit_view_page> page) {
    unavailable = !page && page.error().kind == error_kind::unavailable;
  });
  BOOST_TEST(unavailable);

  view.attach(client);
  view.publish(group);
  BOOST_REQUIRE(client.sent.size() == 1U);  // the entry without a subject is not sent
  BOOST_TEST(client.sent[0][1] == "cs:{u:alice}:audit");

  client.answer = range({item("1-0", {"node", "node-a", "seq", "1", "entry", server::durable_entry_json(group[0])})});
  std::optional<server::audit_view_page> read;
  view.read("alice", server::audit_order::oldest_first, std::string("0-1"), 5,
            [&](result<server::audit_view_page> page) { read = std::move(page).value(); });
  BOOST_REQUIRE(client.execs.size() == 1U);
  BOOST_TEST(
      (client.execs[0] == std::vector<redis::command>{{"XRANGE", "cs:{u:alice}:audit", "(0-1", "+", "COUNT", "5"}}));
  BOOST_REQUIRE(read);
  BOOST_TEST(read->entries.size() == 1U);

  view.detach();
  view.publish(group);
  BOOST_TEST(client.sent.size() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
