// handle_control_request without a socket: the backup command against a real database.
#include "server/control/control_commands.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "storage/data_dir_backup.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {

struct control_fixture {
  test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  server::json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1800000000))};
  std::unique_ptr<storage::database> db = [this] {
    auto opened = storage::database::open({dir.path() / "data" / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  std::unique_ptr<server::app_context> app;

  control_fixture() {
    server::server_config config;
    config.data_dir = dir.path() / "data";
    auto ring = crypto::key_ring::generate();
    BOOST_REQUIRE(ring);
    app = std::make_unique<server::app_context>(config, log, clock, *db, std::move(ring).value());
  }
  ~control_fixture() { std::fclose(log_sink); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(control_commands_suite)

BOOST_FIXTURE_TEST_CASE(backup_writes_a_complete_backup_to_an_absolute_path, control_fixture) {
  const auto dest = dir.path() / "backup";
  const std::string reply = server::handle_control_request(*app, "backup\t" + dest.string());
  BOOST_TEST(reply.rfind("ok\tfiles=", 0) == 0U, reply);
  BOOST_TEST(std::filesystem::exists(dest / storage::backup_marker_file_name));
  BOOST_TEST(std::filesystem::exists(dest / storage::database_dir_name / "CURRENT"));
}

BOOST_FIXTURE_TEST_CASE(bad_requests_get_error_replies, control_fixture) {
  BOOST_TEST(server::handle_control_request(*app, "backup\trelative/dir").rfind("error\t", 0) == 0U);
  BOOST_TEST(server::handle_control_request(*app, "backup").rfind("error\t", 0) == 0U);
  BOOST_TEST(server::handle_control_request(*app, "rotate").rfind("error\tunknown control command", 0) == 0U);
  BOOST_TEST(!std::filesystem::exists(std::filesystem::path("relative/dir")));
}

BOOST_AUTO_TEST_SUITE_END()
