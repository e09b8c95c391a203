// handle_control_request without a socket: the backup and audit-prune commands against a real
// database.
#include "server/control/control_commands.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "storage/audit_journal.hpp"
#include "storage/data_dir_backup.hpp"
#include "storage/group_commit_writer.hpp"
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
  BOOST_TEST(server::handle_control_request(*app, "rotate") ==
             "error\tunknown control command (this server knows: backup, audit-prune)");
  BOOST_TEST(!std::filesystem::exists(std::filesystem::path("relative/dir")));
}

BOOST_FIXTURE_TEST_CASE(audit_prune_declares_then_prunes_through_the_writer, control_fixture) {
  using namespace std::chrono_literals;
  const std::int64_t t0 = 1800000000;
  BOOST_TEST(server::handle_control_request(*app, "audit-prune\tsoon") ==
             "error\tthe prune cutoff must be unix seconds");
  BOOST_TEST(server::handle_control_request(*app, "audit-prune\t" + std::to_string(t0 + 10)) ==
             "error\tthe prune cutoff is in the future");
  BOOST_TEST(server::handle_control_request(*app, "audit-prune\t" + std::to_string(t0)) == "error\tno audit writer");

  storage::group_commit_options options;
  options.checkpoint_every = 2;
  auto writer = storage::group_commit_writer::start(*db, app->keys, clock, std::move(options));
  BOOST_REQUIRE(writer);
  app->writer = writer->get();
  for (int i = 0; i < 4; ++i) {  // checkpoints at 2 and 4, signed at t0
    storage::change_set change;
    storage::audit_draft draft;
    draft.time = t0;
    draft.actor_type = "admin";
    draft.actor_id = "ops";
    draft.action = "user.upsert";
    draft.subject = "u" + std::to_string(i);
    draft.outcome = "created";
    change.add_audit(std::move(draft));
    BOOST_REQUIRE((*writer)->commit(std::move(change)));
  }
  clock.advance(10s);
  BOOST_TEST(server::handle_control_request(*app, "audit-prune\t" + std::to_string(t0 + 1)) ==
             "ok\tthrough=4 removed=4 first=5");
  BOOST_TEST(server::handle_control_request(*app, "audit-prune\t" + std::to_string(t0 + 1)) ==
             "ok\tthrough=0 removed=0 first=5");
  const auto prune = storage::audit_journal(*db).at(5).value();
  BOOST_REQUIRE(prune.has_value());
  BOOST_TEST(prune->action == "audit.prune");
  BOOST_TEST(prune->actor_id == "cli");
  app->writer = nullptr;
  (*writer)->stop();
  const auto verified = storage::audit_journal(*db).verify(app->keys).value();
  BOOST_TEST(verified.intact, verified.reason);
  BOOST_TEST(verified.pruned_through == 4U);
}

BOOST_AUTO_TEST_SUITE_END()
