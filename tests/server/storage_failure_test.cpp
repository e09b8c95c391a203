// A full disk seen from HTTP (issue 16, defect 4): a storage failure's problem body is generic
// (no path, no RocksDB text), and /readyz says not ready while writes fail and ready again once
// one succeeds. The disk is "full" through a RocksDB FileSystem that fails WAL appends with ENOSPC
// (support/wal_probe_file_system.hpp); tests/integration/disk_full_test.py fills a real one.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "server/app_context.hpp"
#include "server/http/problem.hpp"
#include "server/http/router.hpp"
#include "server/routes/routes.hpp"
#include "storage/group_commit_writer.hpp"
#include "support/route_outcome_wait.hpp"
#include "support/temp_directory.hpp"
#include "support/wal_probe_file_system.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

// What a client of the body could learn about the server's files or its database engine.
void require_no_internals(const std::string& body) {
  for (const char* leak : {"/", "IO error", "No space", "appending", ".log", "rocksdb", "RocksDB"}) {
    BOOST_TEST(body.find(leak) == std::string::npos, "'" << leak << "' in " << body);
  }
}

struct full_disk_app {
  test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1800000000))};
  std::shared_ptr<test::wal_probe_file_system> fs = std::make_shared<test::wal_probe_file_system>();
  std::unique_ptr<rocksdb::Env> env = test::wal_probe_file_system::make_env(fs);
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::group_commit_writer> writer;
  std::unique_ptr<app_context> app;
  router routes;

  full_disk_app() {
    storage::database_options options{dir.path() / "data" / "db", true};
    options.env = env.get();
    auto opened = storage::database::open(options);
    BOOST_TEST_REQUIRE(opened.has_value());
    db = std::move(opened).value();
    auto ring = crypto::key_ring::generate();
    BOOST_TEST_REQUIRE(ring.has_value());
    auto started = storage::group_commit_writer::start(*db, *ring, clock, {});
    BOOST_TEST_REQUIRE(started.has_value());
    writer = std::move(started).value();
    server_config config;
    config.data_dir = dir.path() / "data";
    app = std::make_unique<app_context>(config, log, clock, *db, std::move(ring).value());
    app->writer = writer.get();
    add_health_routes(routes, *app);
  }
  ~full_disk_app() {
    writer->stop();
    std::fclose(log_sink);
  }

  http_response get(const std::string& path) {
    http_request request;
    request.method = http_method::get;
    request.path = path;
    auto match = routes.resolve(request);
    BOOST_TEST_REQUIRE(match.matched != nullptr);
    // /readyz's write probe answers asynchronously.
    return test::final_response(router::invoke(*match.matched, request), writer.get());
  }

  result<storage::commit_receipt> write_something(const std::string& key) {
    storage::change_set change;
    change.put(storage::column_family::users, key, "record");
    return writer->commit(std::move(change));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_failure)

BOOST_AUTO_TEST_CASE(a_storage_error_with_a_path_becomes_a_generic_503) {
  const auto err = make_error(error_kind::storage_failed,
                              "write failed: IO error: No space left on device: While appending to file: "
                              "/var/lib/callsign/db/000052.log: No space left on device");
  const auto response = error_response(err);
  BOOST_TEST(response.status == 503U);
  BOOST_TEST(response.content_type == "application/problem+json");
  BOOST_TEST(response.body.find(std::string(storage_failure_detail)) != std::string::npos, response.body);
  require_no_internals(response.body);
  // Other 503s keep their (deliberately written) detail.
  BOOST_TEST(client_detail(make_error(error_kind::unavailable, "shutting down")) == "shutting down");
}

BOOST_FIXTURE_TEST_CASE(readyz_is_503_while_writes_fail_and_200_once_one_succeeds, full_disk_app) {
  BOOST_TEST(get("/readyz").status == 200U);

  fs->fail_wal_appends(true);
  auto failed = write_something("during");
  BOOST_TEST_REQUIRE(!failed.has_value());
  // The route's reply for that failed commit, as router::finish builds it.
  const auto reply = error_response(failed.error());
  BOOST_TEST(reply.status == 503U);
  require_no_internals(reply.body);

  const auto not_ready = get("/readyz");
  BOOST_TEST(not_ready.status == 503U);
  BOOST_TEST(not_ready.content_type == "application/problem+json");
  BOOST_TEST(not_ready.body.find("storage writes are failing") != std::string::npos, not_ready.body);
  require_no_internals(not_ready.body);

  // Room again: /readyz's own probe write succeeds once RocksDB has resumed (it retries every
  // few seconds), with no other traffic. Polled with a bound.
  fs->fail_wal_appends(false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  unsigned status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = get("/readyz").status;
    if (status == 200U) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval
  }
  BOOST_TEST(status == 200U);
  BOOST_TEST(!writer->stats().writes_failing);
}

BOOST_AUTO_TEST_SUITE_END()
