#include "server/config/config.hpp"

#include <boost/test/unit_test.hpp>

#include "server/control/audit_pruning.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
std::string error_of(std::string_view toml) {
  auto cfg = parse_config(toml, "test.toml");
  BOOST_REQUIRE(!cfg);
  BOOST_TEST((cfg.error().kind == error_kind::invalid_input));
  return cfg.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(config_suite)

BOOST_AUTO_TEST_CASE(empty_file_gives_defaults) {
  auto cfg = parse_config("", "empty.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->listen.host == "127.0.0.1");
  BOOST_TEST(cfg->listen.port == 8080);
  BOOST_TEST(cfg->data_dir == "./var");
  BOOST_TEST(cfg->body_limit == 64U * 1024U);
  BOOST_TEST(cfg->phone_token.digits == 6);
  BOOST_TEST(cfg->phone_token.period == 30);
  BOOST_TEST(!cfg->dev_mode);
  BOOST_TEST(cfg->web_root == "web");
  BOOST_TEST(cfg->user_cache_entries == 131072U);
}

BOOST_AUTO_TEST_CASE(every_section_is_read) {
  auto cfg = parse_config(R"(
[server]
listen = "[::1]:0"
data_dir = "/srv/callsign"
io_threads = 3
worker_threads = 4
user_cache_entries = 0
dev_mode = true
web_root = "/usr/share/callsign/web"
[limits]
body_bytes = 2048
header_bytes = 4096
request_timeout_ms = 1500
shutdown_timeout_ms = 200
max_connections = 50
max_connections_per_ip = 7
[log]
level = "warn"
[phone_token]
algorithm = "sha256"
digits = 8
period = 60
t0 = 100
)", "full.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->listen.host == "::1");
  BOOST_TEST(cfg->listen.port == 0);
  BOOST_TEST(cfg->data_dir == "/srv/callsign");
  BOOST_TEST(cfg->io_threads == 3U);
  BOOST_TEST(cfg->worker_threads == 4U);
  BOOST_TEST(cfg->user_cache_entries == 0U);
  BOOST_TEST(cfg->dev_mode);
  BOOST_TEST(cfg->web_root == "/usr/share/callsign/web");
  BOOST_TEST(cfg->body_limit == 2048U);
  BOOST_TEST(cfg->header_limit == 4096U);
  BOOST_TEST(cfg->request_timeout.count() == 1500);
  BOOST_TEST(cfg->shutdown_timeout.count() == 200);
  BOOST_TEST(cfg->max_connections == 50U);
  BOOST_TEST(cfg->max_connections_per_ip == 7U);
  BOOST_TEST((cfg->log_min_level == log_level::warn));
  BOOST_TEST((cfg->phone_token.algorithm == crypto::hash_algorithm::sha256));
  BOOST_TEST(cfg->phone_token.digits == 8);
  BOOST_TEST(cfg->phone_token.period == 60);
  BOOST_TEST(cfg->phone_token.t0 == 100);
}

BOOST_AUTO_TEST_CASE(bad_values_name_their_key) {
  BOOST_TEST(error_of("[limits]\nbody_bytes = 10\n").find("limits.body_bytes") != std::string::npos);
  BOOST_TEST(error_of("[limits]\nbody_bytes = \"big\"\n").find("limits.body_bytes must be an integer") !=
             std::string::npos);
  BOOST_TEST(error_of("[phone_token]\ndigits = 9\n").find("phone_token.digits") != std::string::npos);
  BOOST_TEST(error_of("[phone_token]\nalgorithm = \"MD5\"\n").find("phone_token.algorithm") != std::string::npos);
  BOOST_TEST(error_of("[server]\nlisten = \"nowhere\"\n").find("server.listen") != std::string::npos);
  BOOST_TEST(error_of("[server]\ndev_mode = 1\n").find("server.dev_mode") != std::string::npos);
  BOOST_TEST(error_of("[server]\nuser_cache_entries = 10000001\n").find("server.user_cache_entries") !=
             std::string::npos);
  BOOST_TEST(error_of("[server]\nweb_root = \"\"\n").find("server.web_root") != std::string::npos);
  BOOST_TEST(error_of("[log]\nlevel = \"loud\"\n").find("log.level") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(audit_retention) {
  auto cfg = parse_config("", "empty.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->audit.retention_seconds == 0);  // every entry is kept unless asked
  cfg = parse_config("[audit]\nretention_seconds = 31536000\n", "year.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->audit.retention_seconds == 31536000);
  BOOST_TEST(error_of("[audit]\nretention_seconds = -1\n").find("audit.retention_seconds") != std::string::npos);
  BOOST_TEST(error_of("[audit]\nretention_seconds = 3153600001\n").find("audit.retention_seconds") !=
             std::string::npos);
  BOOST_TEST(server::retention_interval(0).count() == 1);  // at least every second ...
  BOOST_TEST(server::retention_interval(25).count() == 2);
  BOOST_TEST(server::retention_interval(31536000).count() == 3600);  // ... at most every hour
}

BOOST_AUTO_TEST_CASE(upload_rate_floor) {
  auto defaults = parse_config("", "test.toml");
  BOOST_REQUIRE(defaults);
  BOOST_TEST(defaults->lists.upload_min_bytes_per_second == 4096U);
  auto off = parse_config("[lists]\nupload_min_bytes_per_second = 0\n", "test.toml");
  BOOST_REQUIRE(off);
  BOOST_TEST(off->lists.upload_min_bytes_per_second == 0U);
  auto set = parse_config("[lists]\nupload_min_bytes_per_second = 1048576\n", "test.toml");
  BOOST_REQUIRE(set);
  BOOST_TEST(set->lists.upload_min_bytes_per_second == 1048576U);
  BOOST_TEST(error_of("[lists]\nupload_min_bytes_per_second = -1\n").find("lists.upload_min_bytes_per_second") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(stream_section) {
  auto defaults = parse_config("", "test.toml");
  BOOST_REQUIRE(defaults);
  BOOST_TEST(defaults->stream.max_connections_per_user == 5U);
  BOOST_TEST(defaults->stream.auth_timeout.count() == 5000);
  BOOST_TEST(defaults->stream.allowed_origins.empty());
  auto cfg = parse_config(R"(
[stream]
max_connections_per_user = 2
max_connections = 300
auth_timeout_ms = 250
idle_timeout_ms = 20000
write_timeout_ms = 3000
max_message_bytes = 512
outbox_messages = 4
allowed_origins = ["https://a.example", "http://localhost:8080"]
)", "test.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->stream.max_connections_per_user == 2U);
  BOOST_TEST(cfg->stream.max_connections == 300U);
  BOOST_TEST(cfg->stream.auth_timeout.count() == 250);
  BOOST_TEST(cfg->stream.idle_timeout.count() == 20000);
  BOOST_TEST(cfg->stream.write_timeout.count() == 3000);
  BOOST_TEST(cfg->stream.max_message_bytes == 512U);
  BOOST_TEST(cfg->stream.outbox_messages == 4U);
  BOOST_TEST(cfg->stream.allowed_origins.size() == 2U);
  BOOST_TEST(cfg->stream.allowed_origins[1] == "http://localhost:8080");
  BOOST_TEST(error_of("[stream]\nallowed_origins = \"x\"\n").find("stream.allowed_origins") != std::string::npos);
  BOOST_TEST(error_of("[stream]\nallowed_origins = [1]\n").find("stream.allowed_origins") != std::string::npos);
  BOOST_TEST(error_of("[stream]\nauth_timeout_ms = 1\n").find("stream.auth_timeout_ms") != std::string::npos);
  BOOST_TEST(error_of("[stream]\norigins = []\n").find("stream.origins is not a known setting") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_sections_are_rejected) {
  BOOST_TEST(error_of("[server]\nlisten_port = 1\n").find("server.listen_port is not a known setting") !=
             std::string::npos);
  BOOST_TEST(error_of("[serverr]\n").find("serverr is not a known setting") != std::string::npos);
  BOOST_TEST(error_of("server = 3\n").find("server must be a table") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(toml_syntax_errors_name_the_line) {
  auto message = error_of("[server]\nlisten = \n");
  BOOST_TEST(message.find("test.toml:2") != std::string::npos);
}

// Found by tests/fuzz/config_fuzz: toml++ 3.3.0 asserts (undefined behaviour under NDEBUG) on
// a table header that starts with a character no key can start with. A plain error instead.
BOOST_AUTO_TEST_CASE(table_headers_without_a_key_are_refused_cleanly) {
  for (const char* text :
       {"[&", "[!erver]\nlisten = 1", "a = 1\n[[[a]]]\n", "[\n", "  [[ =", "[\t#x]", "\xEF\xBB\xBF[\x01"}) {
    auto cfg = parse_config(text, "x.toml");
    BOOST_REQUIRE(!cfg.has_value());
    BOOST_TEST((cfg.error().kind == error_kind::invalid_input));
    BOOST_TEST(cfg.error().message.find("a table header must start with a key") != std::string::npos, text);
  }
  BOOST_TEST(parse_config("a = 1\n[[[a]]]\n", "x.toml").error().message.rfind("x.toml:2:", 0) == 0);
  // Headers that start with a key, quoted or bare, still reach toml++ (and the section rules).
  BOOST_TEST(parse_config("[ server ]\nlisten = \"127.0.0.1:0\"\n", "x.toml").has_value());
  BOOST_TEST(parse_config("[\"server\"]\n", "x.toml").has_value());
  BOOST_TEST(parse_config("[]\n", "x.toml").error().message.find("a table header") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(listen_address_forms) {
  auto v4 = parse_listen_address("0.0.0.0:443");
  BOOST_REQUIRE(v4);
  BOOST_TEST(v4->host == "0.0.0.0");
  BOOST_TEST(v4->port == 443);
  BOOST_TEST(!parse_listen_address("127.0.0.1:65536"));
  BOOST_TEST(!parse_listen_address(":80"));
  BOOST_TEST(!parse_listen_address("[::1]80"));
  BOOST_TEST(!parse_listen_address("host:8x"));
}

BOOST_AUTO_TEST_CASE(flags_override_file_values) {
  auto cli = parse_command_line({"--data-dir", "/tmp/x", "--listen", "127.0.0.1:0", "--dev", "--io-threads", "1"});
  BOOST_REQUIRE(cli);
  auto cfg = resolve_config(*cli);
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->data_dir == "/tmp/x");
  BOOST_TEST(cfg->listen.port == 0);
  BOOST_TEST(cfg->dev_mode);
  BOOST_TEST(cfg->io_threads == 1U);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_errors) {
  BOOST_TEST(!parse_command_line({"--bogus"}));
  BOOST_TEST(!parse_command_line({"--data-dir"}));
  BOOST_TEST(!parse_command_line({"--io-threads", "many"}));
  auto cli = parse_command_line({"--listen", "nope"});
  BOOST_REQUIRE(cli);
  BOOST_TEST(!resolve_config(*cli));
  auto missing = parse_command_line({"--config", "/nonexistent/callsign.toml"});
  BOOST_REQUIRE(missing);
  auto cfg = resolve_config(*missing);
  BOOST_REQUIRE(!cfg);
  BOOST_TEST(cfg.error().message.find("/nonexistent/callsign.toml") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_keys_suite)

BOOST_AUTO_TEST_CASE(keys_section) {
  auto defaults = parse_config("", "test.toml");
  BOOST_REQUIRE(defaults);
  BOOST_TEST(defaults->keys.rotation_overlap_seconds == 3600);
  auto cfg = parse_config("[keys]\nrotation_overlap_seconds = 0\n", "test.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->keys.rotation_overlap_seconds == 0);
  BOOST_TEST(error_of("[keys]\nrotation_overlap_seconds = -1\n").find("keys.rotation_overlap_seconds") !=
             std::string::npos);
  BOOST_TEST(error_of("[keys]\nrotation_overlap_seconds = 604801\n").find("keys.rotation_overlap_seconds") !=
             std::string::npos);
  BOOST_TEST(error_of("[keys]\noverlap = 5\n").find("keys.overlap is not a known setting") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_tls_suite)

BOOST_AUTO_TEST_CASE(tls_is_off_by_default) {
  auto cfg = parse_config("", "test.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(!cfg->tls.enabled);
  BOOST_TEST(cfg->tls.plaintext);
  BOOST_TEST((cfg->tls.min_version == tls_version::tls1_2));
  BOOST_TEST(cfg->tls.listen.port == 8443);
}

BOOST_AUTO_TEST_CASE(tls_section_is_read) {
  auto cfg = parse_config(R"([tls]
enabled = true
listen = "[::1]:0"
cert_file = "/etc/callsign/chain.pem"
key_file = "/etc/callsign/key.pem"
min_version = "1.3"
plaintext = false
port_file = "/run/callsign/tls.port"
)",
                          "test.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->tls.enabled);
  BOOST_TEST(cfg->tls.listen.host == "::1");
  BOOST_TEST(cfg->tls.listen.port == 0);
  BOOST_TEST(cfg->tls.cert_file->string() == "/etc/callsign/chain.pem");
  BOOST_TEST(cfg->tls.key_file->string() == "/etc/callsign/key.pem");
  BOOST_TEST((cfg->tls.min_version == tls_version::tls1_3));
  BOOST_TEST(!cfg->tls.plaintext);
  BOOST_TEST(cfg->tls.port_file->string() == "/run/callsign/tls.port");
}

BOOST_AUTO_TEST_CASE(tls_errors_name_the_key) {
  BOOST_TEST(error_of("[tls]\nenabled = true\n").find("tls.enabled needs tls.cert_file and tls.key_file") !=
             std::string::npos);
  BOOST_TEST(error_of("[tls]\nenabled = true\ncert_file = \"c.pem\"\n").find("tls.enabled") != std::string::npos);
  BOOST_TEST(error_of("[tls]\nmin_version = \"1.1\"\n").find("tls.min_version") != std::string::npos);
  BOOST_TEST(error_of("[tls]\nmin_version = 1.2\n").find("tls.min_version must be a string") != std::string::npos);
  BOOST_TEST(error_of("[tls]\nplaintext = false\n").find("tls.plaintext") != std::string::npos);
  BOOST_TEST(error_of("[tls]\nlisten = \"nowhere\"\n").find("tls.listen") != std::string::npos);
  BOOST_TEST(error_of("[tls]\nciphers = \"ALL\"\n").find("tls.ciphers is not a known setting") != std::string::npos);
  BOOST_TEST(error_of("tls = 1\n").find("tls must be a table") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tls_port_file_flag) {
  auto cli = parse_command_line({"--tls-port-file", "/tmp/tls.port"});
  BOOST_REQUIRE(cli);
  auto cfg = resolve_config(*cli);
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->tls.port_file->string() == "/tmp/tls.port");
  BOOST_TEST(!parse_command_line({"--tls-port-file"}));
}

BOOST_AUTO_TEST_SUITE_END()
