// Events between nodes: every kind survives encoding, malformed input is refused without being
// quoted, a node ignores its own announcements, and other nodes' events reach local dashboards,
// the block cache and the list reloader.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <vector>

#include "server/cluster/cluster_link.hpp"
#include "server/stream/stream_hub.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

struct recorded {
  std::vector<std::pair<std::string, std::string>> messages;
};

struct quiet_log {
  std::FILE* sink = std::fopen("/dev/null", "w");
  json_log log{sink};
  ~quiet_log() { std::fclose(sink); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_link_suite)

BOOST_AUTO_TEST_CASE(every_kind_round_trips) {
  cluster_event block;
  block.kind = cluster_event_kind::block;
  block.block = storage::block_entry{"login/ip/192.0.2.9", 90'000, 30'000, "ip"};
  auto decoded = decode_cluster_event(encode_cluster_event(block));
  BOOST_REQUIRE(decoded);
  BOOST_TEST((decoded->kind == cluster_event_kind::block));
  BOOST_TEST((decoded->block == block.block));

  cluster_event verified;
  verified.kind = cluster_event_kind::verified;
  verified.node = "node-b";
  verified.user = "u-\"quoted\"";
  verified.agent = "agent-7";
  verified.method = "phone";
  verified.at = 1'700'000'000;
  decoded = decode_cluster_event(encode_cluster_event(verified));
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->user == verified.user);
  BOOST_TEST(decoded->agent == "agent-7");
  BOOST_TEST(decoded->at == verified.at);

  // The shapes the Redis Functions publish.
  decoded = decode_cluster_event(R"({"type":"unblock","key":"k"})");
  BOOST_REQUIRE(decoded);
  BOOST_TEST((decoded->kind == cluster_event_kind::unblock));
  decoded = decode_cluster_event(R"({"type":"user","id":"u-1","version":3})");
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->version == 3U);
}

BOOST_AUTO_TEST_CASE(malformed_events_are_refused_without_quoting) {
  for (std::string_view bad : {"", "[]", R"({"type":"verified"})", R"({"type":"explode","key":"k"})",
                               R"({"type":"block","key":"k","until_ms":"soon","created_ms":1,"rule":"r"})",
                               R"({"type":"unblock","key":"secret-123456"} trailing)"}) {
    auto decoded = decode_cluster_event(bad);
    BOOST_TEST(!decoded);
    if (!decoded) BOOST_TEST(decoded.error().message.find("secret") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(other_nodes_events_are_applied_and_own_are_skipped) {
  quiet_log log;
  storage::block_cache blocks;
  recorded sent;
  cluster_link node_a("node-a", [&](std::string c, std::string m) { sent.messages.emplace_back(c, m); }, blocks,
                      log.log);
  stream_hub hub(stream_limits{});
  int wakes = 0;
  auto subscriber = hub.subscribe("u-1", [&] { ++wakes; });
  BOOST_REQUIRE(subscriber);
  node_a.attach_hub(&hub);
  std::vector<std::string> reloads;
  node_a.on_list_reload([&](std::string list) { reloads.push_back(std::move(list)); });

  // Its own announcement comes back on the channel: nothing happens twice.
  node_a.announce_verified("u-1", "agent-1", "phone", 100);
  BOOST_REQUIRE(sent.messages.size() == 1U);
  BOOST_TEST(sent.messages[0].first == "cs:events");
  node_a.on_message(sent.messages[0].first, sent.messages[0].second);
  BOOST_TEST(!(*subscriber)->pop().has_value());

  // node-b's verify reaches node-a's dashboard.
  cluster_event from_b;
  from_b.kind = cluster_event_kind::verified;
  from_b.node = "node-b";
  from_b.user = "u-1";
  from_b.agent = "agent-2";
  from_b.method = "phone";
  from_b.at = 200;
  node_a.on_message("cs:events", encode_cluster_event(from_b));
  auto notice = (*subscriber)->pop();
  BOOST_REQUIRE(notice.has_value());
  BOOST_TEST((*notice)->find("agent-2") != std::string::npos);
  BOOST_TEST(wakes == 1);

  node_a.on_message("cs:events", R"({"type":"block","key":"login/ip/192.0.2.1","until_ms":5000,"created_ms":1000,"rule":"ip"})");
  BOOST_TEST(blocks.find("login/ip/192.0.2.1", 2000)->has_value());
  node_a.on_message("cs:events", R"({"type":"unblock","key":"login/ip/192.0.2.1"})");
  BOOST_TEST(!blocks.find("login/ip/192.0.2.1", 2000)->has_value());

  node_a.on_message("cs:events", R"({"type":"lists_reload","node":"node-b","list":"open_proxies"})");
  BOOST_REQUIRE(reloads.size() == 1U);
  BOOST_TEST(reloads[0] == "open_proxies");

  node_a.on_message("cs:events", "not json");
  node_a.on_message("other-channel", R"({"type":"unblock","key":"x"})");
  BOOST_TEST(node_a.counts().malformed.load() == 1U);
  node_a.attach_hub(nullptr);
  hub.unsubscribe(*subscriber);
}

BOOST_AUTO_TEST_SUITE_END()
