// The login rules in a cluster, the plain parts: the `rules` event survives encoding and is
// refused malformed without quoting, a node hands other nodes' rules events to its fetcher and
// skips its own, the cluster's rule file and each node's status decode from Redis's hashes (and
// refuse other shapes), and what a node does with the cluster's newest file.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "server/cluster/cluster_link.hpp"
#include "server/cluster/rules_status.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

const std::string sha_a(64, 'a');
const std::string sha_b(64, 'b');

struct quiet_log {
  std::FILE* sink = std::fopen("/dev/null", "w");
  json_log log{sink};
  ~quiet_log() { std::fclose(sink); }
};

cluster_rule_file file_at(std::uint64_t revision, const std::string& sha) {
  cluster_rule_file f;
  f.revision = revision;
  f.sha256 = sha;
  f.text = "[[rule]]\n";
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rules_status_suite)

BOOST_AUTO_TEST_CASE(the_rules_event_round_trips_without_the_text) {
  cluster_event e;
  e.kind = cluster_event_kind::rules_installed;
  e.node = "node-b";
  e.version = 42;
  e.sha256 = sha_a;
  const auto encoded = encode_cluster_event(e);
  BOOST_TEST(encoded == R"({"type":"rules","node":"node-b","revision":42,"sha256":")" + sha_a + R"("})");
  auto decoded = decode_cluster_event(encoded);
  BOOST_REQUIRE(decoded);
  BOOST_TEST((decoded->kind == cluster_event_kind::rules_installed));
  BOOST_TEST(decoded->node == "node-b");
  BOOST_TEST(decoded->version == 42U);
  BOOST_TEST(decoded->sha256 == sha_a);
}

BOOST_AUTO_TEST_CASE(malformed_rules_events_are_refused_without_quoting) {
  for (const std::string& bad :
       {std::string(R"({"type":"rules","node":"n","revision":0,"sha256":")") + sha_a + "\"}",   // no revision 0
        std::string(R"({"type":"rules","node":"n","revision":-3,"sha256":")") + sha_a + "\"}",
        std::string(R"({"type":"rules","node":"n","revision":3,"sha256":"secret-abc"})"),       // not a digest
        std::string(R"({"type":"rules","revision":3,"sha256":")") + sha_a + "\"}",             // no node
        std::string(R"({"type":"rules","node":"n","revision":"3","sha256":")") + sha_a + "\"}"}) {
    auto decoded = decode_cluster_event(bad);
    BOOST_TEST(!decoded, bad);
    if (!decoded) BOOST_TEST(decoded.error().message.find("secret") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(other_nodes_rules_events_reach_the_fetcher_and_own_are_skipped) {
  quiet_log log;
  storage::block_cache blocks;
  std::vector<std::string> sent;
  cluster_link node_a("node-a", [&](std::string, std::string m) { sent.push_back(std::move(m)); }, blocks, log.log);
  // Before a fetcher is set, an event is dropped (the poll catches up).
  node_a.on_message("cs:events", R"({"type":"rules","node":"node-b","revision":1,"sha256":")" + sha_a + "\"}");
  std::vector<std::uint64_t> fetched;
  node_a.on_rules_installed([&](std::uint64_t revision) { fetched.push_back(revision); });

  node_a.announce_rules(7, sha_b);
  BOOST_REQUIRE(sent.size() == 1U);
  node_a.on_message("cs:events", sent[0]);  // its own comes back: nothing to fetch
  BOOST_TEST(fetched.empty());

  node_a.on_message("cs:events", R"({"type":"rules","node":"node-b","revision":8,"sha256":")" + sha_a + "\"}");
  BOOST_REQUIRE(fetched.size() == 1U);
  BOOST_TEST(fetched[0] == 8U);

  node_a.on_rules_installed({});
  node_a.on_message("cs:events", R"({"type":"rules","node":"node-c","revision":9,"sha256":")" + sha_a + "\"}");
  BOOST_TEST(fetched.size() == 1U);
}

BOOST_AUTO_TEST_CASE(the_cluster_rule_file_decodes_and_other_shapes_are_refused) {
  auto none = decode_cluster_rule_file({});
  BOOST_REQUIRE(none);
  BOOST_TEST(none->revision == 0U);

  auto file = decode_cluster_rule_file(
      {{"revision", "12"}, {"text", "[[rule]]\nid = \"x\"\n"}, {"sha256", sha_a}, {"node", "node-c"}, {"at", "1700"}});
  BOOST_REQUIRE(file);
  BOOST_TEST(file->revision == 12U);
  BOOST_TEST(file->text == "[[rule]]\nid = \"x\"\n");
  BOOST_TEST(file->node == "node-c");
  BOOST_TEST(file->at_ms == 1700);

  // An empty text is a rule file too (no rules).
  BOOST_TEST(decode_cluster_rule_file({{"revision", "1"}, {"text", ""}, {"sha256", sha_a}}).has_value());

  for (const hash_fields& bad : {hash_fields{{"revision", "12"}, {"sha256", sha_a}},              // no text
                                 hash_fields{{"revision", "0"}, {"text", "secret"}, {"sha256", sha_a}},
                                 hash_fields{{"revision", "1x"}, {"text", "secret"}, {"sha256", sha_a}},
                                 hash_fields{{"revision", "3"}, {"text", "secret"}, {"sha256", "secret"}},
                                 hash_fields{{"text", "secret"}, {"sha256", sha_a}}}) {
    auto decoded = decode_cluster_rule_file(bad);
    BOOST_TEST(!decoded);
    if (!decoded) BOOST_TEST(decoded.error().message.find("secret") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(node_statuses_round_trip_in_node_order_and_bad_ones_are_skipped) {
  node_rules_status s;
  s.version = 3;
  s.sha256 = sha_a;
  s.loaded_at = 1'700'000'000;
  s.revision = 5;
  const auto encoded = encode_node_rules_status(s);
  BOOST_TEST(encoded == R"({"version":3,"sha256":")" + sha_a + R"(","loaded_at":1700000000,"revision":5})");
  auto decoded = decode_node_rules_status("node-b", encoded);
  BOOST_REQUIRE(decoded);
  s.node = "node-b";
  BOOST_TEST((*decoded == s));

  node_rules_status never;
  never.sha256 = sha_b;
  auto none = decode_node_rules_status("node-a", encode_node_rules_status(never));
  BOOST_REQUIRE(none);
  BOOST_TEST(none->loaded_at == 0);

  for (const std::string& bad : {std::string("secret"), std::string(R"({"version":1,"sha256":"secret","loaded_at":null,"revision":1})"),
                                std::string(R"({"version":"1","sha256":")") + sha_a + R"(","loaded_at":null,"revision":1})",
                                std::string(R"({"version":1,"sha256":")") + sha_a + R"(","revision":1})"}) {
    auto refused = decode_node_rules_status("node-a", bad);
    BOOST_TEST(!refused, bad);
    if (!refused) BOOST_TEST(refused.error().message.find("secret") == std::string::npos);
  }
  BOOST_TEST(!decode_node_rules_status(std::string(65, 'n'), encoded));
  BOOST_TEST(!decode_node_rules_status("", encoded));

  const auto grouped = group_rules_statuses({{"node-c", encoded}, {"node-a", encoded}, {"node-x", "{}"}});
  BOOST_REQUIRE(grouped.nodes.size() == 2U);
  BOOST_TEST(grouped.nodes[0].node == "node-a");
  BOOST_TEST(grouped.nodes[1].node == "node-c");
  BOOST_TEST(grouped.skipped == 1U);
}

BOOST_AUTO_TEST_CASE(a_node_adopts_newer_text_records_the_same_and_stores_what_redis_lacks) {
  // The cluster has none: a node with a file seeds it, one without waits.
  BOOST_TEST((plan_rules_sync(cluster_rule_file{}, 0, sha_a, true) == rules_sync_step::store));
  BOOST_TEST((plan_rules_sync(cluster_rule_file{}, 0, sha_a, false) == rules_sync_step::nothing));
  // Redis lost everything (a failover, a flush) while this node served revision 4: put it back.
  BOOST_TEST((plan_rules_sync(cluster_rule_file{}, 4, sha_a, true) == rules_sync_step::store));
  BOOST_TEST((plan_rules_sync(file_at(3, sha_b), 4, sha_a, true) == rules_sync_step::store));
  // At start (revision 0 served), other text is adopted, the same text recorded.
  BOOST_TEST((plan_rules_sync(file_at(3, sha_b), 0, sha_a, true) == rules_sync_step::adopt));
  BOOST_TEST((plan_rules_sync(file_at(3, sha_b), 0, sha_a, false) == rules_sync_step::adopt));
  BOOST_TEST((plan_rules_sync(file_at(3, sha_a), 0, sha_a, true) == rules_sync_step::record));
  // Running: a newer revision is adopted; the one served is nothing to do.
  BOOST_TEST((plan_rules_sync(file_at(5, sha_b), 4, sha_a, true) == rules_sync_step::adopt));
  BOOST_TEST((plan_rules_sync(file_at(4, sha_a), 4, sha_a, true) == rules_sync_step::nothing));
  BOOST_TEST((plan_rules_sync(file_at(5, sha_a), 4, sha_a, true) == rules_sync_step::record));
  // The served revision with other text (another node stored it after a failover): the cluster wins.
  BOOST_TEST((plan_rules_sync(file_at(4, sha_b), 4, sha_a, true) == rules_sync_step::adopt));
}

BOOST_AUTO_TEST_SUITE_END()
