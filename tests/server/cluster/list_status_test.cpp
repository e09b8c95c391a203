// Each node's list status in Redis (cs:lists:status): it survives encoding, absent values are
// null, a long error is cut, malformed fields and values are refused without being quoted, and
// the HGETALL view groups nodes by list in name order.
#include <boost/test/unit_test.hpp>

#include "server/cluster/list_status.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

list_status loaded_status() {
  list_status s;
  s.id = list_id::managed_devices;
  s.version = 7;
  s.entries = 1234;
  s.sha256 = std::string(64, 'a');
  s.loaded_at = 1'700'000'123;
  s.last_error = "managed_devices: line 3: \"bad\" serial";
  s.source = "/srv/lists/managed.txt";  // not published: each node has its own
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(list_status_suite)

BOOST_AUTO_TEST_CASE(a_status_round_trips_under_its_node_and_list) {
  const auto s = loaded_status();
  const auto field = list_status_field("node-b", s.id);
  BOOST_TEST(field == "node-b/managed_devices");
  const auto json = encode_node_list_status(s);
  BOOST_TEST(json.find("/srv/lists") == std::string::npos);
  auto decoded = decode_node_list_status(field, json);
  BOOST_REQUIRE(decoded);
  BOOST_TEST((decoded->first == list_id::managed_devices));
  const node_list_status want{"node-b", 7, s.sha256, 1234, 1'700'000'123, s.last_error};
  BOOST_TEST((decoded->second == want));
}

BOOST_AUTO_TEST_CASE(a_list_never_loaded_has_nulls) {
  list_status s;
  s.id = list_id::exposed_passwords;
  const auto json = encode_node_list_status(s);
  BOOST_TEST(json == R"({"version":0,"sha256":null,"entries":0,"loaded_at":null,"last_error":null})");
  auto decoded = decode_node_list_status("n.1/exposed_passwords", json);
  BOOST_REQUIRE(decoded);
  BOOST_TEST((decoded->second == node_list_status{"n.1", 0, "", 0, 0, ""}));
}

BOOST_AUTO_TEST_CASE(a_long_error_is_cut_to_512_bytes) {
  auto s = loaded_status();
  s.last_error = std::string(2000, 'e');
  auto decoded = decode_node_list_status("a/open_proxies", encode_node_list_status(s));
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->second.last_error == std::string(512, 'e'));
}

BOOST_AUTO_TEST_CASE(malformed_fields_and_values_are_refused_without_quoting) {
  const auto good = encode_node_list_status(loaded_status());
  for (std::string_view field : {"", "node-secret", "/open_proxies", "node-secret/", "node-secret/passwords",
                                 "node-secret/open_proxies/x"}) {
    auto decoded = decode_node_list_status(field, good);
    BOOST_TEST(!decoded, field);
    if (!decoded) BOOST_TEST(decoded.error().message.find("secret") == std::string::npos);
  }
  BOOST_TEST(!decode_node_list_status(std::string(65, 'n') + "/open_proxies", good));
  for (std::string_view value :
       {"", "[]", "secret", R"({"version":1})", R"({"version":-1,"sha256":null,"entries":0,"loaded_at":null,"last_error":null})",
        R"({"version":1,"sha256":7,"entries":0,"loaded_at":null,"last_error":null})",
        R"({"version":1,"sha256":null,"entries":"many","loaded_at":null,"last_error":null})",
        R"({"version":1,"sha256":null,"entries":0,"loaded_at":"secret","last_error":null})",
        R"({"version":1,"sha256":null,"entries":0,"loaded_at":null})",
        R"({"version":1,"sha256":null,"entries":0,"loaded_at":null,"last_error":null} secret)"}) {
    auto decoded = decode_node_list_status("node-a/open_proxies", value);
    BOOST_TEST(!decoded, value);
    if (!decoded) BOOST_TEST(decoded.error().message.find("secret") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(the_cluster_view_groups_by_list_in_node_order) {
  auto s = loaded_status();
  s.id = list_id::open_proxies;
  const auto a = encode_node_list_status(s);
  s.version = 8;
  const auto c = encode_node_list_status(s);
  const auto view = group_list_statuses({{"node-c/open_proxies", c},
                                         {"node-a/open_proxies", a},
                                         {"node-b/open_proxies", "not json"},
                                         {"node-b/exposed_credentials", a},
                                         {"node-b/no_such_list", a}});
  BOOST_TEST(view.skipped == 2U);
  const auto& proxies = view.by_list[static_cast<std::size_t>(list_id::open_proxies)];
  BOOST_REQUIRE(proxies.size() == 2U);
  BOOST_TEST(proxies[0].node == "node-a");
  BOOST_TEST(proxies[0].version == 7U);
  BOOST_TEST(proxies[1].node == "node-c");
  BOOST_TEST(proxies[1].version == 8U);
  BOOST_TEST(view.by_list[static_cast<std::size_t>(list_id::exposed_credentials)].size() == 1U);
  BOOST_TEST(view.by_list[static_cast<std::size_t>(list_id::managed_devices)].empty());
}

BOOST_AUTO_TEST_SUITE_END()
