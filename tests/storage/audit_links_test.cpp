// Node ids in entries and the cross-links between several nodes' journals (docs/audit.md,
// "Several nodes").
#include "storage/audit_links.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "audit_links_support.hpp"
#include "crypto/sha256.hpp"

using namespace callsign;

namespace {

storage::audit_cross_verification cross_verify(const std::vector<const test::node_journal*>& nodes) {
  std::vector<storage::audit_journal> journals;
  journals.reserve(nodes.size());
  for (const auto* n : nodes) journals.emplace_back(*n->db);
  std::vector<storage::audit_journal_source> sources;
  for (std::size_t i = 0; i < nodes.size(); ++i) sources.push_back({nodes[i]->dir.path().string(), &journals[i]});
  auto report = storage::verify_audit_links(sources);
  BOOST_REQUIRE(report);
  for (const auto& b : report->broken) BOOST_TEST_MESSAGE("broken: " << b.journal << " " << b.reason);
  for (const auto& p : report->problems) BOOST_TEST_MESSAGE("problem: " << p);
  return *report;
}

bool journal_intact(const test::node_journal& n) {
  auto report = storage::audit_journal(*n.db).verify(n.ring);
  BOOST_REQUIRE(report);
  return report->intact;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_links_suite)

BOOST_AUTO_TEST_CASE(node_id_is_stored_after_seq_and_covered_by_the_hash) {
  const storage::audit_draft draft = test::draft_for("alice");
  const storage::audit_hash zeros{};
  const std::string plain = storage::encode_audit_entry(7, zeros, draft);
  // No node: the single-node bytes, exactly (existing journals stay valid).
  BOOST_TEST(plain == storage::encode_audit_entry(7, zeros, draft, ""));
  BOOST_TEST(plain.find("\"node\"") == std::string::npos);
  const std::string stored = storage::encode_audit_entry(7, zeros, draft, "node-a");
  BOOST_TEST(stored.starts_with("{\"v\":1,\"seq\":7,\"node\":\"node-a\",\"time\":1700000000,"));
  BOOST_TEST(stored == std::string(plain).insert(plain.find(",\"time\""), ",\"node\":\"node-a\""));

  auto entry = storage::decode_audit_entry(stored);
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->node == "node-a");
  BOOST_TEST(entry->hash == crypto::hex_encode(crypto::sha256(stored)));
  BOOST_TEST(storage::audit_entry_json(*entry) ==
             stored.substr(0, stored.size() - 1) + ",\"hash\":\"" + entry->hash + "\"}");
  auto old = storage::decode_audit_entry(plain);
  BOOST_REQUIRE(old);
  BOOST_TEST(old->node.empty());

  // One encoding per entry: no empty, invalid, misplaced or repeated node.
  const auto with = [&](std::string_view from, std::string_view to) {
    std::string text = stored;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  BOOST_TEST(!storage::decode_audit_entry(with("\"node\":\"node-a\"", "\"node\":\"\"")));
  BOOST_TEST(!storage::decode_audit_entry(with("\"node\":\"node-a\"", "\"node\":\"Node A\"")));
  BOOST_TEST(!storage::decode_audit_entry(with("\"node\":\"node-a\"", "\"node\":\"a\",\"node\":\"b\"")));
  BOOST_TEST(!storage::decode_audit_entry(with("\"seq\":7,\"node\":\"node-a\"", "\"node\":\"node-a\",\"seq\":7")));

  BOOST_TEST(storage::valid_audit_node_id("a.b_c-9"));
  BOOST_TEST(storage::valid_audit_node_id(std::string(64, 'n')));
  BOOST_TEST(!storage::valid_audit_node_id(std::string(65, 'n')));
  BOOST_TEST(!storage::valid_audit_node_id(""));
  BOOST_TEST(!storage::valid_audit_node_id("A"));
  BOOST_TEST(!storage::valid_audit_node_id("a b"));
}

BOOST_FIXTURE_TEST_CASE(a_writer_without_node_id_writes_no_node, test::journal_fixture) {
  auto writer = start_writer();
  BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("alice"))));
  auto stored = db->get(storage::column_family::audit, storage::audit_key(1));
  BOOST_REQUIRE(stored && stored->has_value());
  BOOST_TEST(**stored == storage::encode_audit_entry(1, {}, test::draft_for("alice")));
}

BOOST_FIXTURE_TEST_CASE(a_writer_with_node_id_stamps_every_entry, test::journal_fixture) {
  auto options = test::checkpoints(3, 0);
  options.node_id = "node-a";
  {
    auto writer = start_writer(options);
    for (int i = 0; i < 7; ++i) BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("alice"))));
  }
  auto entries = storage::audit_journal(*db).after(0, 100);
  BOOST_REQUIRE(entries);
  BOOST_TEST(entries->size() == 7U);
  for (const auto& e : *entries) BOOST_TEST(e.node == "node-a");
  auto report = storage::audit_journal(*db).verify(ring);
  BOOST_REQUIRE(report);
  BOOST_TEST(report->intact);
  BOOST_TEST(report->checkpoints == 3U);  // at 3, 6 and the final one at 7

  options.node_id = "Node A";
  BOOST_TEST(!storage::group_commit_writer::start(*db, ring, clock, options));
}

BOOST_AUTO_TEST_CASE(link_entries_round_trip_and_refuse_bad_details) {
  storage::audit_hash head{};
  head[0] = 0xab;
  head[31] = 0x01;
  const std::vector<storage::audit_link> links{{"node-b", 12, head}, {"node-c", 3, {}}};
  const storage::audit_draft draft = storage::audit_link_draft(1700000000, links);
  BOOST_REQUIRE(storage::validate_audit_draft(draft));
  BOOST_TEST(draft.actor_type == "system");
  auto entry = storage::decode_audit_entry(storage::encode_audit_entry(1, {}, draft, "node-a"));
  BOOST_REQUIRE(entry);
  auto parsed = storage::audit_links_of(*entry);
  BOOST_REQUIRE(parsed);
  BOOST_REQUIRE(parsed->size() == 2U);
  BOOST_TEST((*parsed)[0].node == "node-b");
  BOOST_TEST((*parsed)[0].seq == 12U);
  BOOST_TEST(((*parsed)[0].head == head));
  BOOST_TEST((*parsed)[1].node == "node-c");

  for (const std::string& bad : std::vector<std::string>{"12", "12:" + std::string(63, 'a'),
                                                         "x:" + std::string(64, 'a'), "0:" + std::string(64, 'a'),
                                                         "12:" + std::string(64, 'A'), "-1:" + std::string(64, 'a')}) {
    storage::audit_entry e = *entry;
    e.details = {{"node-b", bad}};
    BOOST_TEST(!storage::audit_links_of(e), bad);
  }
  storage::audit_entry e = *entry;
  e.details = {{"Node-B", "12:" + std::string(64, 'a')}};
  BOOST_TEST(!storage::audit_links_of(e));
  e.action = "verify";
  BOOST_TEST(!storage::audit_links_of(e));
}

BOOST_AUTO_TEST_CASE(links_between_two_journals_verify) {
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  b.add_entries(5);
  const auto b_head = b.head_link();
  a.add_entries(2);
  const std::uint64_t link_seq = a.link({b_head});
  b.link({a.head_link()});
  b.add_entries(3);

  const auto report = cross_verify({&a, &b});
  BOOST_TEST(report.intact());
  BOOST_TEST(report.links_checked == 2U);
  BOOST_TEST(report.links_unchecked == 0U);
  BOOST_REQUIRE(report.journals.size() == 2U);
  BOOST_TEST(report.journals[0].node == "node-a");
  BOOST_TEST(report.journals[0].links_held == 1U);
  BOOST_TEST(report.journals[1].node == "node-b");
  BOOST_TEST(link_seq == 3U);

  // Alone, a's link names a node whose journal is not given: counted, not checked.
  const auto alone = cross_verify({&a});
  BOOST_TEST(alone.intact());
  BOOST_TEST(alone.links_checked == 0U);
  BOOST_TEST(alone.links_unchecked == 1U);
  BOOST_TEST((alone.unchecked_nodes == std::vector<std::string>{"node-b"}));
}

BOOST_AUTO_TEST_CASE(a_rewritten_history_breaks_the_link_another_node_holds) {
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  b.add_entries(6);
  const auto b_head = b.head_link();  // seq 6
  const std::uint64_t link_seq = a.link({b_head});
  b.add_entries(2);
  BOOST_TEST(cross_verify({&a, &b}).intact());

  // b's entry 4 gets another outcome; b's chain and checkpoints are redone with the key ring.
  test::rewrite_history(*b.db, b.ring, 4);
  BOOST_TEST(journal_intact(b));  // the journal alone cannot tell
  const auto report = cross_verify({&a, &b});
  BOOST_TEST(!report.intact());
  BOOST_REQUIRE(report.broken.size() == 1U);
  const auto& broken = report.broken[0];
  BOOST_TEST(broken.journal == a.dir.path().string());
  BOOST_TEST(broken.holder_node == "node-a");
  BOOST_TEST(broken.entry_seq == link_seq);
  BOOST_TEST(broken.linked_node == "node-b");
  BOOST_TEST(broken.linked_seq == 6U);
  BOOST_TEST(broken.reason.find("entry 6 of node node-b's journal hashes to") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_edited_or_truncated_journal_breaks_the_link) {
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  b.add_entries(3);
  a.link({b.head_link()});  // b seq 3

  auto stored = b.db->get(storage::column_family::audit, storage::audit_key(3));
  BOOST_REQUIRE(stored && stored->has_value());
  std::string edited = **stored;
  edited.replace(edited.find("\"valid\""), 7, "\"VALID\"");
  BOOST_REQUIRE(b.db->put(storage::column_family::audit, storage::audit_key(3), edited));
  auto report = cross_verify({&a, &b});
  BOOST_REQUIRE(report.broken.size() == 1U);
  BOOST_TEST(report.broken[0].linked_seq == 3U);

  const std::vector<storage::write_op> remove{
      {storage::write_op::kind::remove, storage::column_family::audit, storage::audit_key(3), {}}};
  BOOST_REQUIRE(b.db->write(remove));
  report = cross_verify({&a, &b});
  BOOST_REQUIRE(report.broken.size() == 1U);
  BOOST_TEST(report.broken[0].reason == "node node-b's journal has no entry 3");
}

BOOST_AUTO_TEST_CASE(journals_that_name_no_single_node_are_problems) {
  test::node_journal a("node-a");
  test::node_journal a_again("node-a");
  a.add_entries(1);
  a_again.add_entries(1);
  auto report = cross_verify({&a, &a_again});
  BOOST_TEST(!report.intact());
  BOOST_REQUIRE(report.problems.size() == 1U);
  BOOST_TEST(report.problems[0].find("are both node node-a") != std::string::npos);

  // Entries written under another node id into the same journal.
  test::node_journal b("node-b");
  b.add_entries(1);
  b.writer.reset();
  auto options = test::checkpoints(4, 0);
  options.node_id = "node-c";
  auto writer = storage::group_commit_writer::start(*b.db, b.ring, b.clock, options);
  BOOST_REQUIRE(writer);
  BOOST_REQUIRE((*writer)->commit(test::change_with(test::draft_for("alice"))));
  report = cross_verify({&b});
  BOOST_REQUIRE(report.problems.size() == 1U);
  BOOST_TEST(report.problems[0].find("several nodes (node-b, node-c)") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
