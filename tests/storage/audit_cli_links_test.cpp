// `callsign audit verify` over several data directories: the real CLI ($CALLSIGN_CLI) on
// journals written here by real writers (docs/audit.md, "Several nodes").
#define BOOST_TEST_MODULE audit_cli
#include <sys/wait.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "audit_links_support.hpp"

using namespace callsign;

namespace {

struct cli_outcome {
  int status = -1;
  std::string out;
};

// Runs the CLI with `args` (temp paths: no quoting needed), stdout captured, stderr to ours.
cli_outcome run_cli(const std::string& args) {
  const char* cli = std::getenv("CALLSIGN_CLI");
  BOOST_REQUIRE_MESSAGE(cli != nullptr, "CALLSIGN_CLI names the callsign binary (set by ctest)");
  FILE* pipe = popen((std::string(cli) + " " + args).c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  cli_outcome outcome;
  std::array<char, 4096> buffer{};
  for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;)
    outcome.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  BOOST_REQUIRE(WIFEXITED(status));
  outcome.status = WEXITSTATUS(status);
  BOOST_TEST_MESSAGE("callsign " << args << " -> " << outcome.status << "\n" << outcome.out);
  return outcome;
}

std::string dir_of(const test::node_journal& n) {
  return n.dir.path().string();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(verify_checks_links_across_journals_and_fails_on_a_rewritten_one) {
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  b.add_entries(6);
  const std::uint64_t link_seq = a.link({b.head_link()});  // b seq 6
  b.link({a.head_link()});
  a.add_entries(1);
  a.close();
  b.close();

  const std::string both = "audit verify --data-dir " + dir_of(a) + " --data-dir=" + dir_of(b);
  auto outcome = run_cli(both);
  BOOST_TEST(outcome.status == 0);
  BOOST_TEST(contains(outcome.out, "node node-a (" + dir_of(a) + "): ok: audit journal intact: 2 entries"));
  BOOST_TEST(contains(outcome.out, "node node-b (" + dir_of(b) + "): ok: audit journal intact: 7 entries"));
  BOOST_TEST(contains(outcome.out, "cross-links: 2 checked, 0 broken, 0 naming a node whose journal was not given"));

  // The single-directory form is unchanged: one line, the journal alone.
  outcome = run_cli("audit verify --data-dir " + dir_of(b));
  BOOST_TEST(outcome.status == 0);
  BOOST_TEST(outcome.out == "audit journal intact: 7 entries (seq 1..7), 2 signed checkpoints (last at seq 7)\n");
  // A journal given alone among several names the nodes its links reach but cannot check.
  test::node_journal c("node-c");
  c.close();
  outcome = run_cli("audit verify --data-dir " + dir_of(b) + " --data-dir " + dir_of(c));
  BOOST_TEST(outcome.status == 0);
  BOOST_TEST(contains(outcome.out,
                      "cross-links: 0 checked, 0 broken, 1 naming a node whose journal was not given "
                      "(node-a)\n"));

  // Rewrite b's entry 2 and everything after it, re-signed: b alone still verifies ...
  {
    auto db = storage::database::open({b.dir.path() / "db", false});
    BOOST_REQUIRE(db);
    test::rewrite_history(**db, b.ring, 2);
  }
  outcome = run_cli("audit verify --data-dir " + dir_of(b));
  BOOST_TEST(outcome.status == 0);
  // ... but the link a holds to b's seq 6 no longer does.
  outcome = run_cli(both);
  BOOST_TEST(outcome.status == 1);
  BOOST_TEST(contains(outcome.out, "broken link: journal " + dir_of(a) + " (node node-a) entry " +
                                       std::to_string(link_seq) +
                                       " links node node-b seq 6: entry 6 of node "
                                       "node-b's journal hashes to "));
  BOOST_TEST(contains(outcome.out, "cross-links: 2 checked, 1 broken,"));
}

BOOST_AUTO_TEST_CASE(verify_reports_a_broken_journal_among_several) {
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  b.add_entries(5);
  a.link({b.head_link()});
  a.close();
  b.close();
  {
    auto db = storage::database::open({b.dir.path() / "db", false});
    BOOST_REQUIRE(db);
    const std::vector<storage::write_op> remove{
        {storage::write_op::kind::remove, storage::column_family::audit, storage::audit_key(2), {}}};
    BOOST_REQUIRE((*db)->write(remove));
  }
  const auto outcome = run_cli("audit verify --data-dir " + dir_of(a) + " --data-dir " + dir_of(b));
  BOOST_TEST(outcome.status == 1);
  BOOST_TEST(contains(outcome.out, "node node-a (" + dir_of(a) + "): ok:"));
  BOOST_TEST(contains(outcome.out, "node node-b (" + dir_of(b) + "): BROKEN: audit journal broken at seq 2:"));
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2) {
  BOOST_TEST(run_cli("audit verify --data-dir 2>/dev/null").status == 2);
  BOOST_TEST(run_cli("audit verify --data-dir /nonexistent --bogus 1 2>/dev/null").status == 2);
  BOOST_TEST(run_cli("audit verify 2>/dev/null").status == 2);
  BOOST_TEST(run_cli("audit verify --data-dir /nonexistent --help").status == 0);
}
