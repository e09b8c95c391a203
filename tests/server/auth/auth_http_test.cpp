// authenticate(), require_role(), mint_hs256_token() and where the verifier's keys come from.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>

#include "server/auth/authenticate.hpp"
#include "server/auth/token_minting.hpp"
#include "server/auth/verification_keys.hpp"
#include "support/jwt_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using test::bytes_of;
using test::hs256_key;
using test::now;

namespace fs = std::filesystem;

namespace {

server::http_request request_with(std::string authorization) {
  server::http_request request;
  request.headers.push_back({"authorization", std::move(authorization)});
  return request;
}

std::string mint(server::role r, std::string_view sub, std::int64_t ttl = 600) {
  auto token = server::mint_hs256_token(bytes_of(hs256_key), "callsign", "callsign", r, sub, now, ttl);
  BOOST_TEST_REQUIRE(token.has_value());
  return std::move(token).value();
}

void write_file(const fs::path& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary) << text;
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_http_tests)

BOOST_AUTO_TEST_CASE(authenticate_needs_a_bearer_header) {
  const auto verifier = test::make_verifier();
  const std::string token = mint(server::role::customer, "user-42");
  for (const std::string& good : {"Bearer " + token, "bearer " + token, "BEARER   " + token, "Bearer " + token + " "}) {
    const auto caller = server::authenticate(request_with(good), verifier, now);
    BOOST_TEST_REQUIRE(caller.has_value());
    BOOST_TEST(caller->subject == "user-42");
    BOOST_TEST((caller->role == server::role::customer));
  }
  BOOST_TEST((server::authenticate(server::http_request{}, verifier, now).error().kind == error_kind::unauthorized));
  for (const std::string& bad :
       {std::string("Bearer"), std::string("Bearer "), std::string("Basic dXNlcjpwYXNz"), "Token " + token,
        "Bearer" + token, token, "Bearer " + token + " extra", "Bearer " + token.substr(1)}) {
    const auto caller = server::authenticate(request_with(bad), verifier, now);
    BOOST_TEST_REQUIRE(!caller.has_value());
    BOOST_TEST((caller.error().kind == error_kind::unauthorized));
    BOOST_TEST(caller.error().message.find(token.substr(10, 20)) == std::string::npos);
  }
  const auto expired = server::authenticate(request_with("Bearer " + token), verifier, now + 600 + 30);
  BOOST_TEST_REQUIRE(!expired.has_value());
  BOOST_TEST(expired.error().message == "token has expired");
}

BOOST_AUTO_TEST_CASE(require_role_is_forbidden_outside_the_list) {
  const server::principal agent{server::role::agent, "agent-7"};
  BOOST_TEST(server::require_role(agent, {server::role::agent, server::role::admin}).has_value());
  const auto refused = server::require_role(agent, {server::role::customer});
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST((refused.error().kind == error_kind::forbidden));
  BOOST_TEST(!server::require_role(agent, {}).has_value());
}

BOOST_AUTO_TEST_CASE(roles_parse_exactly) {
  BOOST_TEST((server::parse_role("admin") == server::role::admin));
  BOOST_TEST(!server::parse_role("ADMIN").has_value());
  BOOST_TEST(!server::parse_role("admin ").has_value());
  for (const auto r : {server::role::customer, server::role::agent, server::role::service, server::role::admin}) {
    BOOST_TEST((server::parse_role(server::role_name(r)) == r));
  }
}

BOOST_AUTO_TEST_CASE(minting_checks_its_inputs) {
  const auto key = bytes_of(hs256_key);
  BOOST_TEST(
      !server::mint_hs256_token(key.first(31), "callsign", "callsign", server::role::agent, "a", now, 60).has_value());
  BOOST_TEST(!server::mint_hs256_token(key, "", "callsign", server::role::agent, "a", now, 60).has_value());
  BOOST_TEST(!server::mint_hs256_token(key, "callsign", "callsign", server::role::agent, "a b", now, 60).has_value());
  BOOST_TEST(!server::mint_hs256_token(key, "callsign", "callsign", server::role::agent, "", now, 60).has_value());
  BOOST_TEST(!server::mint_hs256_token(key, "callsign", "callsign", server::role::agent, "a", now, 0).has_value());
  BOOST_TEST(!server::mint_hs256_token(key, "callsign", "callsign", server::role::agent, "a", now,
                                       server::max_token_ttl_seconds + 1)
                  .has_value());
  const auto token = server::mint_hs256_token(key, "callsign", "callsign", server::role::admin, "root", now, 60);
  BOOST_TEST_REQUIRE(token.has_value());
  BOOST_TEST(token->starts_with(test::base64url(R"({"alg":"HS256","typ":"JWT"})") + "."));
  const auto verifier = test::make_verifier();
  BOOST_TEST(verifier.verify(*token, now + 60 + 29).has_value());
  BOOST_TEST(!verifier.verify(*token, now + 60 + 30).has_value());
}

BOOST_AUTO_TEST_CASE(dev_key_is_created_once_owner_only_and_signs_tokens_the_server_accepts) {
  const test::temp_directory dir;
  const fs::path data_dir = dir.path() / "data";
  const auto missing = server::load_hs256_signing_key(server::auth_config{}, data_dir);
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().kind == error_kind::not_found));

  const auto verifier = server::token_verifier::load(server::auth_config{}, data_dir, false);
  BOOST_TEST_REQUIRE(verifier.has_value(), (verifier.has_value() ? "" : verifier.error().message));
  BOOST_TEST((verifier->algorithms() == std::vector<std::string_view>{"HS256"}));
  const fs::path key_file = data_dir / server::dev_hs256_key_file_name;
  struct stat info {};
  BOOST_TEST_REQUIRE(::stat(key_file.c_str(), &info) == 0);
  BOOST_TEST((info.st_mode & 07777U) == 0600U);
  BOOST_TEST(info.st_size == 32);

  const auto key = server::load_hs256_signing_key(server::auth_config{}, data_dir);
  BOOST_TEST_REQUIRE(key.has_value());
  const auto token =
      server::mint_hs256_token(bytes_of(*key), "callsign", "callsign", server::role::agent, "agent-7", now, 60);
  BOOST_TEST_REQUIRE(token.has_value());
  BOOST_TEST(verifier->verify(*token, now).has_value());

  // A restart reuses the key: old tokens keep working.
  const auto restarted = server::token_verifier::load(server::auth_config{}, data_dir, true);
  BOOST_TEST_REQUIRE(restarted.has_value());
  BOOST_TEST(restarted->verify(*token, now).has_value());
}

BOOST_AUTO_TEST_CASE(configured_key_files_are_checked) {
  const test::temp_directory dir;
  const auto ec = test::generate_key_pair(false);
  const auto rsa = test::generate_key_pair(true);
  write_file(dir.path() / "ec.pem", ec.public_pem, 0644);  // public keys need no secrecy
  write_file(dir.path() / "rsa.pem", rsa.public_pem, 0644);
  write_file(dir.path() / "ec-private.pem", ec.private_pem, 0600);
  write_file(dir.path() / "hs.key", hs256_key, 0600);
  write_file(dir.path() / "short.key", "too short", 0600);
  write_file(dir.path() / "open.key", hs256_key, 0644);

  server::auth_config config;
  config.es256_public_key_file = dir.path() / "ec.pem";
  config.rs256_public_key_file = dir.path() / "rsa.pem";
  // Public keys only, outside dev mode: no HS256 and no dev key file.
  const auto production = server::token_verifier::load(config, dir.path() / "data", false);
  BOOST_TEST_REQUIRE(production.has_value(), (production.has_value() ? "" : production.error().message));
  BOOST_TEST((production->algorithms() == std::vector<std::string_view>{"ES256", "RS256"}));
  BOOST_TEST(!fs::exists(dir.path() / "data"));
  // Dev mode adds the development HMAC key beside them.
  const auto dev = server::token_verifier::load(config, dir.path() / "data", true);
  BOOST_TEST_REQUIRE(dev.has_value());
  BOOST_TEST((dev->algorithms() == std::vector<std::string_view>{"HS256", "ES256", "RS256"}));

  config.hs256_key_file = dir.path() / "hs.key";
  const auto with_hmac = server::token_verifier::load(config, dir.path() / "data", false);
  BOOST_TEST_REQUIRE(with_hmac.has_value());
  BOOST_TEST(with_hmac->verify(mint(server::role::agent, "a"), now).has_value());
  BOOST_TEST(server::load_hs256_signing_key(config, dir.path() / "data").value() == hs256_key);

  const auto refused = [&](server::auth_config changed, std::string_view expected_text) {
    const auto loaded = server::token_verifier::load(changed, dir.path() / "data", false);
    BOOST_TEST_REQUIRE(!loaded.has_value());
    BOOST_TEST(loaded.error().message.find(expected_text) != std::string::npos, loaded.error().message);
    BOOST_TEST(loaded.error().message.find(hs256_key) == std::string::npos);
  };
  auto bad = config;
  bad.hs256_key_file = dir.path() / "short.key";
  refused(bad, "at least 32");
  bad.hs256_key_file = dir.path() / "open.key";
  refused(bad, "chmod 600");
  bad.hs256_key_file = dir.path() / "missing.key";
  refused(bad, "auth.hs256_key_file");
  bad = config;
  bad.es256_public_key_file = dir.path() / "rsa.pem";
  refused(bad, "auth.es256_public_key_file");
  bad = config;
  bad.es256_public_key_file = dir.path() / "ec-private.pem";
  refused(bad, "private key");
  bad = config;
  bad.rs256_public_key_file = dir.path() / "ec.pem";
  refused(bad, "RSA");
}

BOOST_AUTO_TEST_SUITE_END()
