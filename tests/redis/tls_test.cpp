// TLS to Redis: the server's certificate is verified against tls.ca_file and the address (or
// tls.server_name); a certificate from another CA, a name mismatch and an unreadable CA file
// each fail with a clear last_error. Certificates are made with the openssl CLI in the temp dir.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <mutex>

#include "redis_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {
void run(const std::string& command) {
  BOOST_REQUIRE_MESSAGE(std::system((command + " 2>/dev/null >/dev/null").c_str()) == 0, command);
}

// <dir>/<name>.crt and .key: a self-signed CA.
void make_ca(const std::filesystem::path& dir, const std::string& name) {
  const std::string base = (dir / name).string();
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" + name + " -keyout " +
      base + ".key -out " + base + ".crt");
}

// <dir>/server.crt and .key for 127.0.0.1 and localhost, signed by CA `ca`.
void make_server_cert(const std::filesystem::path& dir, const std::string& ca) {
  const std::string base = (dir / "server").string();
  std::ofstream(dir / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout " + base +
      ".key -out " + base + ".csr");
  run("openssl x509 -req -days 2 -in " + base + ".csr -CA " + (dir / ca).string() + ".crt -CAkey " +
      (dir / ca).string() + ".key -CAcreateserial -extfile " + base + ".ext -out " + base + ".crt");
}

struct tls_server {
  test::temp_directory dir;
  std::uint16_t tls_port = test::redis_process::free_port();
  std::unique_ptr<test::redis_process> server;

  tls_server() {
    make_ca(dir.path(), "ca");
    make_ca(dir.path(), "other-ca");
    make_server_cert(dir.path(), "ca");
    // The plain port stays for the helper's readiness check; the client uses tls-port.
    server = std::make_unique<test::redis_process>(
        dir.path(), test::redis_process_options{
                        .config_lines = {"tls-port " + std::to_string(tls_port),
                                         "tls-cert-file " + (dir.path() / "server.crt").string(),
                                         "tls-key-file " + (dir.path() / "server.key").string(),
                                         "tls-ca-cert-file " + (dir.path() / "ca.crt").string(),
                                         "tls-auth-clients no"}});
  }
  redis::client_options options(const std::string& ca) const {
    auto made = test::options_for(*server);
    made.address.port = tls_port;
    made.tls.enabled = true;
    made.tls.ca_file = (dir.path() / ca).string();
    return made;
  }
};

std::string failure_of(redis::client_options options) {
  auto client = redis::client::start(std::move(options), {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().last_error.empty(); }));
  BOOST_TEST(!client->status().connected);
  BOOST_TEST_MESSAGE("last_error: " << client->status().last_error);
  return client->status().last_error;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(tls_suite)

BOOST_AUTO_TEST_CASE(connects_and_subscribes_over_verified_tls) {
  tls_server fixture;
  std::mutex mutex;
  std::vector<std::string> messages;
  redis::client_callbacks callbacks;
  callbacks.message = [&](std::string_view, std::string_view message) {
    std::lock_guard lock(mutex);
    messages.emplace_back(message);
  };
  auto client = redis::client::start(fixture.options("ca.crt"), callbacks, {"cs:notices"});
  BOOST_REQUIRE(test::wait_until([&] { return client->status().connected && client->status().subscribed; }));
  auto answer = test::exec_wait(*client, {{"SET", "cs:tls", std::string(100000, 'x')}, {"STRLEN", "cs:tls"},
                                          {"PUBLISH", "cs:notices", "over tls"}, {"CLIENT", "INFO"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(1).integer == 100000);
  BOOST_TEST(answer->at(2).integer == 1);
  // The server saw this exec on its TLS port.
  BOOST_TEST(answer->at(3).text.find("laddr=127.0.0.1:" + std::to_string(fixture.tls_port)) != std::string::npos);
  BOOST_REQUIRE(test::wait_until([&] {
    std::lock_guard lock(mutex);
    return messages.size() == 1 && messages[0] == "over tls";
  }));
  client->stop();
  BOOST_TEST(fixture.server->stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_certificate_from_another_ca_is_refused) {
  tls_server fixture;
  const auto error = failure_of(fixture.options("other-ca.crt"));
  BOOST_TEST(error.find("TLS handshake") != std::string::npos, error);
  BOOST_TEST(error.find("certificate") != std::string::npos, error);
  BOOST_TEST(fixture.server->stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_name_the_certificate_does_not_hold_is_refused) {
  tls_server fixture;
  auto options = fixture.options("ca.crt");
  options.tls.server_name = "redis.example";
  const auto error = failure_of(options);
  BOOST_TEST(error.find("TLS handshake (certificate: hostname mismatch)") != std::string::npos, error);
  options.tls.server_name = "localhost";  // in the certificate
  auto client = redis::client::start(options, {}, {});
  BOOST_TEST(test::wait_connected(*client));
  client->stop();
  BOOST_TEST(fixture.server->stop() == 0);
}

BOOST_AUTO_TEST_CASE(an_unreadable_ca_file_is_reported) {
  tls_server fixture;
  const auto error = failure_of(fixture.options("missing.crt"));
  BOOST_TEST(error.find("TLS CA file cannot be used") != std::string::npos, error);
  BOOST_TEST(fixture.server->stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_renewed_ca_file_is_read_at_the_next_connection) {
  // The server moves to a certificate from another CA, and the client's CA file is replaced
  // (by rename) with that CA: the connections up stay, and the next ones verify against the new
  // file. A client that loaded its CA file once would fail every reconnect from now on.
  tls_server fixture;
  const auto dir = fixture.dir.path();
  std::filesystem::copy_file(dir / "ca.crt", dir / "client-ca.pem");
  auto client = redis::client::start(fixture.options("client-ca.pem"), {}, {"cs:notices"});
  BOOST_REQUIRE(test::wait_until([&] { return client->status().connected && client->status().subscribed; }));

  std::filesystem::create_directory(dir / "renewed");
  for (const char* file : {"other-ca.crt", "other-ca.key"}) std::filesystem::copy_file(dir / file, dir / "renewed" / file);
  make_server_cert(dir / "renewed", "other-ca");
  BOOST_TEST(fixture.server->command({"CONFIG", "SET", "tls-cert-file", (dir / "renewed" / "server.crt").string(),
                                      "tls-key-file", (dir / "renewed" / "server.key").string()}) == "+OK\r\n");
  std::filesystem::copy_file(dir / "other-ca.crt", dir / "client-ca.pem.new");
  std::filesystem::rename(dir / "client-ca.pem.new", dir / "client-ca.pem");
  auto still = test::exec_wait(*client, {{"PING"}});
  BOOST_REQUIRE(still);
  BOOST_TEST(still->front().is_status("PONG"));

  BOOST_TEST(fixture.server->command({"CLIENT", "KILL", "TYPE", "normal"}).rfind(":", 0) == 0);
  BOOST_TEST(fixture.server->command({"CLIENT", "KILL", "TYPE", "pubsub"}).rfind(":", 0) == 0);
  BOOST_REQUIRE(test::wait_until([&] {
    const auto status = client->status();
    return status.connected && status.subscribed && status.reconnects >= 1;
  }));
  auto answer = test::exec_wait(*client, {{"SET", "cs:renewed", "1"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->front().is_status("OK"));
  client->stop();
  BOOST_TEST(fixture.server->stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
