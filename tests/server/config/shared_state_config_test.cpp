// [shared_state]: the embedded default, both ways of finding Redis, and every refusal by key.
#include <boost/test/unit_test.hpp>

#include "server/config/config.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

std::string refusal(std::string_view toml) {
  auto cfg = parse_config(toml, "test.toml");
  BOOST_REQUIRE(!cfg);
  BOOST_TEST((cfg.error().kind == error_kind::invalid_input));
  return cfg.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_state_config_suite)

BOOST_AUTO_TEST_CASE(embedded_is_the_default) {
  auto cfg = parse_config("", "empty.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST((cfg->shared_state.backend == shared_state_backend::embedded));
  BOOST_TEST(cfg->shared_state.wait_replicas == 1);
  BOOST_TEST((cfg->shared_state.login_signals == unavailable_policy::fail_open));
}

BOOST_AUTO_TEST_CASE(sentinels_are_read) {
  auto cfg = parse_config(R"(
[shared_state]
backend = "redis"
node_id = "node-a"
sentinels = ["127.0.0.1:26379", "[::1]:26380"]
master_name = "callsign"
username = "callsignd"
password_file = "/etc/callsign/redis.password"
wait_replicas = 0
wait_timeout_ms = 500
command_timeout_ms = 1500
retry_after_seconds = 3
login_signals_when_unavailable = "closed"
)",
                          "t.toml");
  BOOST_REQUIRE(cfg);
  const auto& s = cfg->shared_state;
  BOOST_TEST((s.backend == shared_state_backend::redis));
  BOOST_TEST(s.node_id == "node-a");
  BOOST_REQUIRE(s.sentinels.size() == 2U);
  BOOST_TEST(s.sentinels[1].host == "::1");
  BOOST_TEST(s.sentinels[1].port == 26380);
  BOOST_TEST(!s.address.has_value());
  BOOST_TEST(s.master_name == "callsign");
  BOOST_TEST(s.password_file->string() == "/etc/callsign/redis.password");
  BOOST_TEST(s.wait_replicas == 0);
  BOOST_TEST(s.wait_timeout.count() == 500);
  BOOST_TEST(s.command_timeout.count() == 1500);
  BOOST_TEST(s.retry_after.count() == 3);
  BOOST_TEST((s.login_signals == unavailable_policy::fail_closed));
}

BOOST_AUTO_TEST_CASE(refusals_name_their_key) {
  BOOST_TEST(refusal("[shared_state]\nbackend = \"memcached\"\n").find("shared_state.backend") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nbackend = \"redis\"\naddress = \"127.0.0.1:6379\"\n")
                 .find("shared_state.node_id") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nnode_id = \"Node A\"\n").find("shared_state.node_id") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nbackend = \"redis\"\nnode_id = \"a\"\n").find("shared_state.address") !=
             std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nbackend = \"redis\"\nnode_id = \"a\"\naddress = \"127.0.0.1:6379\"\n"
                     "sentinels = [\"127.0.0.1:26379\"]\nmaster_name = \"m\"\n")
                 .find("shared_state.address") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nbackend = \"redis\"\nnode_id = \"a\"\nsentinels = [\"127.0.0.1:26379\"]\n")
                 .find("shared_state.master_name") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nsentinels = []\n").find("shared_state.sentinels") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\naddress = \"127.0.0.1:0\"\n").find("shared_state.address") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nlogin_signals_when_unavailable = \"maybe\"\n")
                 .find("shared_state.login_signals_when_unavailable") != std::string::npos);
  BOOST_TEST(refusal("[shared_state]\npassword = \"hunter2\"\n").find("hunter2") == std::string::npos);
  BOOST_TEST(refusal("[shared_state]\nbackend = \"redis\"\nnode_id = \"a\"\naddress = \"127.0.0.1:6379\"\n"
                     "wait_timeout_ms = 2000\ncommand_timeout_ms = 2000\n")
                 .find("shared_state.wait_timeout_ms") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
