// Bulk user import (server/users/user_import.hpp): the line parser's rules (PUT's), per-line
// errors with line numbers and no echoed values, idempotent re-runs, email conflicts inside one
// file, the file's order where two lines share a key, and the summary audit entry.
#include "server/users/user_import.hpp"

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <future>
#include <sstream>

#include "../../storage/user_directory_test_support.hpp"
#include "server/users/user_fields.hpp"
#include "storage/audit_journal.hpp"
#include "storage/blocking_pool.hpp"
#include "support/memory_user_directory.hpp"

using namespace callsign;
using server::parse_user_import_line;

namespace {

// Lines of `text`, as the CLI and the route hand them over (without line endings).
server::import_source lines_of(std::shared_ptr<std::vector<std::string>> lines) {
  auto at = std::make_shared<std::size_t>(0);
  return [lines, at](std::string_view& line) {
    if (*at == lines->size()) return false;
    line = (*lines)[(*at)++];
    return true;
  };
}

server::import_report import(storage::user_directory& users, std::vector<std::string> text,
                             server::import_options options = {}) {
  options.now = options.now == 0 ? 1700000000 : options.now;
  auto report = test::wait_for<server::import_report>([&](auto done) {
    server::run_user_import(users, lines_of(std::make_shared<std::vector<std::string>>(std::move(text))), options,
                            std::move(done));
  });
  BOOST_REQUIRE_MESSAGE(report, (report ? std::string() : report.error().message));
  return std::move(report).value();
}

std::string line(const std::string& id, const std::string& email, bool phone = true) {
  return R"({"id":")" + id + R"(","email":")" + email + R"(","phone_support":)" + (phone ? "true" : "false") + "}";
}

std::string reason_on(const server::import_report& report, std::uint64_t line_number) {
  for (const auto& e : report.errors) {
    if (e.line == line_number) return e.reason.message;
  }
  return "(no error on that line)";
}
}  // namespace

BOOST_AUTO_TEST_SUITE(user_import_suite)

BOOST_AUTO_TEST_CASE(a_line_is_validated_as_put_validates_its_body) {
  auto ok = parse_user_import_line(R"({"id":"a@b:c","email":" Ann@Example.COM ","phone_support":false})");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->id == "a@b:c");
  BOOST_TEST(ok->fields.email == "ann@example.com");
  BOOST_TEST(!ok->fields.phone_support);
  struct bad {
    std::string text;
    std::string message_part;
  };
  for (const auto& [text, part] : std::vector<bad>{
           {R"({"id":"x","email":"x@example.com"})", "phone_support"},
           {R"({"id":"x","email":"secret-value-not-an-email","phone_support":true})", "email"},
           {R"({"id":"bad id!","email":"x@example.com","phone_support":true})", "user id"},
           {R"({"id":"x","email":"x@example.com","phone_support":"yes"})", "phone_support"},
           {R"({"id":"x","email":"x@example.com","phone_support":true,"role":"admin"})", "unknown field 'role'"},
           {R"({"id":"x","id":"y","email":"x@example.com","phone_support":true})", "more than once"},
           {R"(["x"])", "the line must be a JSON object"},
           {R"({"id":"x",)", "the line is not valid JSON"},
       }) {
    auto parsed = parse_user_import_line(text);
    BOOST_REQUIRE_MESSAGE(!parsed, text);
    BOOST_TEST(static_cast<int>(parsed.error().kind) == static_cast<int>(error_kind::invalid_input));
    BOOST_TEST(parsed.error().message.find(part) != std::string::npos, parsed.error().message);
    BOOST_TEST(parsed.error().message.find("secret-value") == std::string::npos);  // values are never echoed
  }
}

BOOST_AUTO_TEST_CASE(errors_are_reported_per_line_and_the_rest_is_imported) {
  test::memory_user_directory users;
  auto report = import(users, {line("ann", "ann@example.com"), "", "not json", line("bob", "nope"),
                               line("cy", "shared@example.com"), line("dee", "shared@example.com"),
                               line("ann", "ann2@example.com"), line("eve", "eve@example.com")});
  BOOST_TEST(report.lines == 7U);  // the blank line 2 is skipped, but counted in line numbers
  BOOST_TEST(report.created == 3U);
  BOOST_TEST(report.failed == 4U);
  BOOST_TEST(reason_on(report, 3) == "the line is not valid JSON");
  BOOST_TEST(reason_on(report, 4) == "email must look like name@example.com");
  BOOST_TEST(reason_on(report, 6) == "that email belongs to another user");  // cy has it since line 5
  BOOST_TEST(reason_on(report, 7) == "the id is on line 1 already");
  BOOST_TEST(!test::find_user(users, "dee"));
  BOOST_TEST(test::find_user(users, "ann")->record.email == "ann@example.com");
  const auto json = server::import_report_json(report);
  BOOST_TEST(json.find(R"("failed":4)") != std::string::npos, json);
  BOOST_TEST(json.find(R"({"line":6,"reason":"that email belongs to another user"})") != std::string::npos, json);
  BOOST_TEST(json.find("nope") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_rerun_writes_nothing_and_a_changed_line_updates) {
  test::memory_user_directory users;
  std::vector<std::string> file{line("ann", "ann@example.com"), line("bob", "bob@example.com", false)};
  BOOST_TEST(import(users, file).created == 2U);
  const auto writes = users.committed.size();
  auto again = import(users, file);
  BOOST_TEST(again.unchanged == 2U);
  BOOST_TEST(again.created + again.updated + again.failed == 0U);
  BOOST_TEST(users.committed.size() == writes);  // nothing was written
  file[1] = line("bob", "bob@example.com", true);
  auto changed = import(users, file);
  BOOST_TEST(changed.unchanged == 1U);
  BOOST_TEST(changed.updated == 1U);
  BOOST_TEST(test::find_user(users, "bob")->record.phone_support);
  BOOST_TEST(test::find_user(users, "bob")->version == 2U);
}

// Over the embedded backend with a small window: lines that share an email keep the file's
// order (ann leaves e1 before bob takes it), pipelined writes go on from a thread of their own,
// and one summary audit entry follows the last write.
BOOST_AUTO_TEST_CASE(the_embedded_import_keeps_the_file_order_and_writes_a_summary) {
  test::embedded_directories b;
  BOOST_REQUIRE(test::put_user(b.users, {"ann", "e1@example.com", true, 1, 1}, 0));
  std::vector<std::string> file;
  for (int i = 0; i < 3000; ++i) file.push_back(line("u" + std::to_string(i), "u" + std::to_string(i) + "@example.com"));
  file.push_back(line("ann", "e2@example.com"));
  file.push_back(line("bob", "e1@example.com"));
  storage::blocking_pool resume_thread(1, "test-import");
  server::import_options options;
  options.window = 16;
  options.sink = b.writer.get();
  options.resume_on = resume_thread.executor();
  options.summary.actor_type = "admin";
  options.summary.actor_id = "root";
  auto report = import(*b.user_dir, file, options);
  BOOST_TEST(report.created == 3001U);
  BOOST_TEST(report.updated == 1U);
  BOOST_TEST(report.failed == 0U, reason_on(report, 3002));
  BOOST_TEST(test::find_user(b.users, "bob")->record.email == "e1@example.com");
  BOOST_TEST(test::find_user(b.users, "ann")->record.email == "e2@example.com");
  const storage::audit_journal journal(*b.db);
  auto last = journal.at(journal.last_sequence().value());
  BOOST_REQUIRE(last && *last);
  BOOST_TEST((*last)->action == "user.import");
  BOOST_TEST((*last)->outcome == "ok");
  BOOST_TEST(journal.last_sequence().value() == 1U);  // one entry for the whole import
  auto again = import(*b.user_dir, file, options);
  BOOST_TEST(again.unchanged == 3002U);
}

BOOST_AUTO_TEST_CASE(a_raised_stop_ends_the_import_at_the_next_line_with_an_interrupted_summary) {
  test::embedded_directories b;
  auto file = std::make_shared<std::vector<std::string>>();
  for (int i = 0; i < 1000; ++i) file->push_back(line("s" + std::to_string(i), "s" + std::to_string(i) + "@example.com"));
  std::atomic<bool> stop{false};
  auto given = std::make_shared<std::size_t>(0);
  // The source raises the flag once it has handed out 100 lines, as a SIGTERM would mid-file.
  server::import_source source = [file, given, &stop](std::string_view& text) {
    if (*given == file->size()) return false;
    text = (*file)[(*given)++];
    if (*given == 100) stop.store(true);
    return true;
  };
  storage::blocking_pool resume_thread(1, "test-import");
  server::import_options options;
  options.now = 1700000000;
  options.window = 16;
  options.sink = b.writer.get();
  options.resume_on = resume_thread.executor();
  options.summary.actor_type = "admin";
  options.summary.actor_id = "root";
  options.stop = &stop;
  auto report = test::wait_for<server::import_report>(
      [&](auto done) { server::run_user_import(*b.user_dir, source, options, std::move(done)); });
  BOOST_REQUIRE(report);
  BOOST_TEST(report->interrupted);
  BOOST_TEST(*given == 100U);  // no line asked for after the flag; the 100th is not imported
  BOOST_TEST(report->lines == 99U);
  BOOST_TEST(report->created == 99U);  // every write in flight landed before the answer
  BOOST_TEST(test::find_user(b.users, "s98").has_value());
  BOOST_TEST(!test::find_user(b.users, "s99").has_value());
  const storage::audit_journal journal(*b.db);
  auto last = journal.at(journal.last_sequence().value());
  BOOST_REQUIRE(last && *last);
  BOOST_TEST((*last)->action == "user.import");
  BOOST_TEST((*last)->outcome == "interrupted");
}

BOOST_AUTO_TEST_SUITE_END()
