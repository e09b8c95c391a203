// The Asio-free decisions of a streamed list upload: admit_list_upload / install_list_upload
// (the decision made from the header alone, then the audited install), with real files and a
// real registry. upload_file itself: upload_file_test.cpp.
#include "server/lists/list_upload.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "server/auth/token_minting.hpp"
#include "server/lists/list_registry.hpp"
#include "server/lists/upload_file.hpp"
#include "server/routes/routes.hpp"
#include "storage/database.hpp"
#include "support/jwt_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace


namespace {

// Keeps the audit entries submitted and completes each at once, as a writer that never fails.
class recording_sink final : public storage::commit_sink {
 public:
  void submit(storage::change_set changes, std::function<void(result<storage::commit_receipt>)> done) override {
    for (auto& draft : changes.audit) drafts.push_back(std::move(draft));
    done(storage::commit_receipt{});
  }
  storage::group_commit_stats stats() const noexcept override { return {}; }

  std::vector<storage::audit_draft> drafts;
};

struct upload_fixture {
  test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(test::now))};
  std::unique_ptr<storage::database> db = [this] {
    auto opened = storage::database::open({dir.path() / "data" / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  token_verifier verifier = test::make_verifier();
  std::unique_ptr<app_context> app;
  std::unique_ptr<list_registry> lists;
  recording_sink sink;

  upload_fixture() {
    server_config config;
    config.data_dir = dir.path() / "data";
    config.lists.max_upload_bytes = 4096;
    config.lists.max_text_bytes = 1024;
    auto ring = crypto::key_ring::generate();
    BOOST_REQUIRE(ring);
    app = std::make_unique<app_context>(config, log, clock, *db, std::move(ring).value());
    app->verifier = &verifier;
    lists = std::make_unique<list_registry>(config.lists, config.data_dir, app->keys, clock);
    lists->load_all();
    app->lists = lists.get();
  }
  ~upload_fixture() { std::fclose(log_sink); }

  static http_request request_for(std::string_view list, std::optional<role> as) {
    http_request request;
    request.method = http_method::put;
    request.path = "/v1/admin/lists/" + std::string(list);
    request.target = request.path;
    request.path_params = {{"name", std::string(list)}};
    if (as) {
      auto token = mint_hs256_token(test::bytes_of(test::hs256_key), "callsign", "callsign", *as, "list-admin",
                                    test::now, 600);
      BOOST_REQUIRE(token);
      request.headers.push_back({"authorization", "Bearer " + *token});
    }
    return request;
  }

  fs::path lists_dir() const { return dir.path() / "data" / "lists"; }
  list_services services() { return {*app, *lists, sink}; }

  // The reply of install_list_upload, given once its one audit entry reached the sink.
  http_response installed_reply(handler_result outcome) {
    auto& value = outcome.value();
    auto* reply = std::get_if<http_response>(&value);
    BOOST_TEST_REQUIRE(reply != nullptr);
    BOOST_TEST_REQUIRE(!sink.drafts.empty());  // the audit entry
    BOOST_TEST(sink.drafts.back().action == "lists.upload");
    return *reply;
  }
};

// The refusal's status: 0 for an admitted upload, 413 for one admitted as declared too large.
unsigned status_of(const std::variant<list_upload_ticket, http_response>& admitted) {
  if (const auto* ticket = std::get_if<list_upload_ticket>(&admitted)) return ticket->declared_too_large ? 413U : 0U;
  return std::get<http_response>(admitted).status;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_rate_floor)

BOOST_AUTO_TEST_CASE(a_slow_upload_gets_a_408_naming_the_setting) {
  const http_response response = upload_too_slow_response(16384);
  BOOST_TEST(response.status == 408U);
  BOOST_TEST(response.content_type == "application/problem+json");
  BOOST_TEST(response.body.find("lists.upload_min_bytes_per_second") != std::string::npos);
  BOOST_TEST(response.body.find("16384") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(list_upload_admission)

BOOST_FIXTURE_TEST_CASE(refusals_are_decided_from_the_header_alone, upload_fixture) {
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", std::nullopt), 10)) == 401U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", role::agent), 10)) == 403U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", role::customer), 10)) == 403U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("no_such_list", role::admin), 10)) == 404U);
  // Unauthenticated callers learn nothing about list names or limits.
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("no_such_list", std::nullopt), 1 << 30)) == 401U);
  // Declared sizes: text lists are capped by max_text_bytes too, set files by max_upload_bytes.
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", role::admin), 1025)) == 413U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("exposed_passwords", role::admin), 4097)) == 413U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("exposed_passwords", role::admin), 4096)) == 0U);
  // Neither a length nor chunked coding: the body's end is unknowable (an empty list from a body
  // that never arrived, issue 16). A chunked body of unknown length is admitted.
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", role::admin), std::nullopt)) == 411U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", role::admin), std::nullopt, true)) == 0U);
  BOOST_TEST(status_of(admit_list_upload(services(), request_for("open_proxies", std::nullopt), std::nullopt)) == 401U);
  // No files are made for refused callers (the lists directory may not even exist yet).
  BOOST_TEST((!fs::exists(lists_dir()) || files_in(lists_dir()) == 0U));
}

BOOST_FIXTURE_TEST_CASE(an_admins_refused_upload_is_audited_before_its_reply, upload_fixture) {
  const auto request = request_for("exposed_passwords", role::admin);
  auto admitted = admit_list_upload(services(), request, 4097);
  BOOST_TEST_REQUIRE(status_of(admitted) == 413U);
  const auto& ticket = std::get<list_upload_ticket>(admitted);
  BOOST_TEST(ticket.who.subject == "list-admin");
  BOOST_TEST(ticket.limit == 4096U);
  BOOST_TEST(ticket.path.empty());  // nothing to write to

  auto outcome = refused_list_upload(*app, request, ticket, upload_refusal::too_large, 0,
                                     upload_too_large_response(ticket.limit));
  auto* deferred = std::get_if<deferred_response>(&outcome.value());
  BOOST_TEST_REQUIRE(deferred != nullptr);  // the reply waits for the entry
  BOOST_TEST(deferred->changes.ops.empty());
  BOOST_TEST_REQUIRE(deferred->changes.audit.size() == 1U);
  const auto& entry = deferred->changes.audit.front();
  BOOST_TEST(entry.action == "lists.upload");
  BOOST_TEST(entry.outcome == "refused");
  BOOST_TEST(entry.actor_type == "admin");
  BOOST_TEST(entry.actor_id == "list-admin");
  const std::vector<std::pair<std::string, std::string>> expected{
      {"list", "exposed_passwords"}, {"reason", "too_large"}, {"bytes_stored", "0"}};
  BOOST_TEST((entry.details == expected));
  BOOST_TEST(deferred->finish(storage::commit_receipt{}).status == 413U);

  // Each way an admitted upload can end unfinished has its name.
  const auto aborted = refused_upload_audit(*app, request, ticket, upload_refusal::aborted, 65536);
  BOOST_TEST((aborted.details[1] == std::pair<std::string, std::string>{"reason", "aborted"}));
  BOOST_TEST((aborted.details[2] == std::pair<std::string, std::string>{"bytes_stored", "65536"}));
  BOOST_TEST(upload_refusal_name(upload_refusal::too_slow) == "too_slow");
  BOOST_TEST(upload_refusal_name(upload_refusal::store_failed) == "store_failed");
}

BOOST_FIXTURE_TEST_CASE(an_admitted_upload_streams_then_installs_or_is_rejected_whole, upload_fixture) {
  // Chunked (no declared length): admitted, with the list's own limit.
  auto admitted = admit_list_upload(services(), request_for("open_proxies", role::admin), std::nullopt, true);
  BOOST_TEST_REQUIRE(status_of(admitted) == 0U);
  const auto ticket = std::get<list_upload_ticket>(admitted);
  BOOST_TEST((ticket.id == list_id::open_proxies));
  BOOST_TEST(ticket.limit == 1024U);
  BOOST_TEST(ticket.who.subject == "list-admin");
  BOOST_TEST(ticket.path.parent_path() == lists_dir());
  BOOST_TEST(!fs::exists(ticket.path));  // admission makes no file

  auto file = upload_file::create(ticket.path, ticket.limit);
  BOOST_TEST_REQUIRE(file.has_value());
  BOOST_TEST_REQUIRE(file->write("# first\n192.0.2.1\n").has_value());
  BOOST_TEST_REQUIRE(file->write("198.51.100.0/24\n").has_value());
  const auto request = request_for("open_proxies", role::admin);
  const auto reply = installed_reply(install_list_upload(services(), request, ticket, *file));
  BOOST_TEST(reply.status == 200U, reply.body);
  BOOST_TEST_REQUIRE(sink.drafts.size() == 1U);
  BOOST_TEST(sink.drafts.back().outcome == "reloaded");
  BOOST_TEST(lists->snapshot()->is_open_proxy("198.51.100.7"));
  BOOST_TEST(lists->status(list_id::open_proxies).version == 1U);
  BOOST_TEST(files_in(lists_dir()) == 1U);  // the source only

  // A bad line: 422 naming the line, the file removed, version 1 still serving.
  auto second = admit_list_upload(services(), request, std::nullopt, true);
  const auto bad_ticket = std::get<list_upload_ticket>(second);
  auto bad = upload_file::create(bad_ticket.path, bad_ticket.limit);
  BOOST_TEST_REQUIRE(bad.has_value());
  BOOST_TEST_REQUIRE(bad->write("203.0.113.1\nnot-an-address\n").has_value());
  const auto refused = installed_reply(install_list_upload(services(), request, bad_ticket, *bad));
  BOOST_TEST(refused.status == 422U);
  BOOST_TEST_REQUIRE(sink.drafts.size() == 2U);
  BOOST_TEST(sink.drafts.back().outcome == "rejected");
  BOOST_TEST(refused.body.find("line 2") != std::string::npos, refused.body);
  BOOST_TEST(!fs::exists(bad_ticket.path));
  BOOST_TEST(lists->status(list_id::open_proxies).version == 1U);
  BOOST_TEST(lists->snapshot()->is_open_proxy("198.51.100.7"));
  BOOST_TEST(!lists->snapshot()->is_open_proxy("203.0.113.1"));
  BOOST_TEST(files_in(lists_dir()) == 1U);
}

BOOST_FIXTURE_TEST_CASE(an_upload_that_cannot_be_finished_is_refused_and_audited, upload_fixture) {
  // finish() fails (here: the file is already closed, as after a failed fsync): the refusal is
  // audited as store_failed before its reply, nothing is installed, and no file stays behind.
  const auto request = request_for("open_proxies", role::admin);
  auto admitted = admit_list_upload(services(), request, std::nullopt, true);
  const auto ticket = std::get<list_upload_ticket>(admitted);
  auto file = upload_file::create(ticket.path, ticket.limit);
  BOOST_TEST_REQUIRE(file.has_value());
  BOOST_TEST_REQUIRE(file->write("192.0.2.1\n").has_value());
  file->abort();
  auto outcome = install_list_upload(services(), request, ticket, *file);
  auto* deferred = std::get_if<deferred_response>(&outcome.value());
  BOOST_TEST_REQUIRE(deferred != nullptr);  // the reply waits for the entry
  BOOST_TEST_REQUIRE(deferred->changes.audit.size() == 1U);
  const auto& entry = deferred->changes.audit.front();
  BOOST_TEST(entry.action == "lists.upload");
  BOOST_TEST(entry.outcome == "refused");
  const std::vector<std::pair<std::string, std::string>> expected{
      {"list", "open_proxies"}, {"reason", "store_failed"}, {"bytes_stored", "10"}};
  BOOST_TEST((entry.details == expected));
  BOOST_TEST(deferred->finish(storage::commit_receipt{}).status >= 500U);
  BOOST_TEST(!fs::exists(ticket.path));
  BOOST_TEST(lists->status(list_id::open_proxies).version == 0U);
  BOOST_TEST(!lists->snapshot()->is_open_proxy("192.0.2.1"));
}

BOOST_FIXTURE_TEST_CASE(start_up_removes_uploads_a_crash_left_behind, upload_fixture) {
  // What a SIGKILL mid-upload leaves: a partial file under the upload name. Other files stay.
  const auto source = lists->status(list_id::exposed_passwords).source;
  auto stale = lists->upload_path(list_id::exposed_passwords);
  BOOST_TEST_REQUIRE(stale.has_value());
  std::ofstream(*stale, std::ios::binary) << "partial";
  const auto unrelated = lists_dir() / "notes.txt";
  std::ofstream(unrelated) << "keep me";
  list_registry restarted(app->config.lists, app->config.data_dir, app->keys, clock);
  restarted.load_all();
  BOOST_TEST(!fs::exists(*stale));
  BOOST_TEST(fs::exists(unrelated));
  BOOST_TEST(source.parent_path() == lists_dir());
}

BOOST_FIXTURE_TEST_CASE(text_lists_keep_the_in_memory_cap_on_reload_too, upload_fixture) {
  BOOST_TEST(lists->upload_limit(list_id::open_proxies) == 1024U);
  BOOST_TEST(lists->upload_limit(list_id::managed_devices) == 1024U);
  BOOST_TEST(lists->upload_limit(list_id::exposed_credentials) == 4096U);
  BOOST_TEST(lists->upload_limit(list_id::exposed_passwords) == 4096U);
  // A source edited in place past max_text_bytes is refused before it is read.
  fs::create_directories(lists_dir());
  std::string big;
  for (int i = 0; big.size() <= 1024; ++i) big += "10.1." + std::to_string(i) + ".0/24\n";
  std::ofstream(lists->status(list_id::open_proxies).source, std::ios::binary) << big;
  auto reloaded = lists->reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(!reloaded.has_value());
  BOOST_TEST(reloaded.error().message.find("max_text_bytes") != std::string::npos, reloaded.error().message);
  BOOST_TEST(lists->status(list_id::open_proxies).version == 0U);
}

// The group takes the registry and the commit sink at registration, so no request finds them
// missing: registering without either is a start-up error, not a 503 at run time.
BOOST_FIXTURE_TEST_CASE(the_routes_refuse_to_register_without_the_registry_or_the_sink, upload_fixture) {
  router without_sink;
  BOOST_CHECK_THROW(add_lists_routes(without_sink, *app), std::logic_error);  // app->writer unset
  app->writer = &sink;
  app->lists = nullptr;
  router without_lists;
  BOOST_CHECK_THROW(add_lists_routes(without_lists, *app), std::logic_error);
  app->lists = lists.get();
  router complete;
  add_lists_routes(complete, *app);
  auto get = request_for("open_proxies", role::admin);
  get.method = http_method::get;
  get.path = "/v1/admin/lists";
  BOOST_TEST(complete.resolve(get).matched != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
