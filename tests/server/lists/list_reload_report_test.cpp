// report_list_outcomes without a server: which reloads that no request carried (SIGHUP, the
// periodic refresh) reach the journal, with which actor and details, and that the refresh
// audits a source that stays broken once.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "server/lists/list_refresher.hpp"

using namespace callsign;
using server::list_id;
using server::reload_outcome;

namespace {

// Keeps what was submitted and completes it at once, as a writer that never fails would.
class recording_sink final : public storage::commit_sink {
 public:
  void submit(storage::change_set changes, std::function<void(result<storage::commit_receipt>)> done) override {
    for (auto& draft : changes.audit) drafts.push_back(std::move(draft));
    done(storage::commit_receipt{});
  }
  storage::group_commit_stats stats() const noexcept override { return {}; }

  std::vector<storage::audit_draft> drafts;
};

using outcomes = std::vector<std::pair<list_id, result<reload_outcome>>>;

reload_outcome changed(list_id id, std::uint64_t version) {
  reload_outcome out;
  out.changed = true;
  out.status.id = id;
  out.status.version = version;
  out.status.entries = 3;
  out.status.sha256 = std::string(64, 'a');
  return out;
}

reload_outcome unchanged(list_id id) {
  reload_outcome out = changed(id, 1);
  out.changed = false;
  return out;
}

std::string detail(const storage::audit_draft& draft, const std::string& key) {
  for (const auto& [k, v] : draft.details) {
    if (k == key) return v;
  }
  return "<none>";
}

struct report_fixture {
  std::FILE* log_sink = std::tmpfile();
  server::json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1800000000))};
  recording_sink sink;

  ~report_fixture() { std::fclose(log_sink); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(list_reload_report)

BOOST_FIXTURE_TEST_CASE(sighup_audits_every_attempt_as_the_operator, report_fixture) {
  outcomes attempts;
  attempts.emplace_back(list_id::open_proxies, changed(list_id::open_proxies, 4));
  attempts.emplace_back(list_id::managed_devices, unchanged(list_id::managed_devices));
  attempts.emplace_back(list_id::exposed_passwords, make_error(error_kind::not_found, "/x/passwords.set does not exist"));
  server::report_list_outcomes(log, &sink, clock, server::sighup_reload, attempts);
  BOOST_REQUIRE(sink.drafts.size() == 3U);
  const std::vector<std::string> outcomes_seen = {sink.drafts[0].outcome, sink.drafts[1].outcome, sink.drafts[2].outcome};
  BOOST_TEST((outcomes_seen == std::vector<std::string>{"reloaded", "unchanged", "rejected"}));
  for (const auto& draft : sink.drafts) {
    BOOST_TEST(draft.actor_type == "admin");
    BOOST_TEST(draft.actor_id == "sighup");
    BOOST_TEST(draft.action == "lists.reload");
    BOOST_TEST(draft.time == 1800000000);
    BOOST_TEST(detail(draft, "trigger") == "SIGHUP");
  }
  BOOST_TEST(detail(sink.drafts[0], "list") == "open_proxies");
  BOOST_TEST(detail(sink.drafts[0], "version") == "4");
  BOOST_TEST(detail(sink.drafts[0], "entries") == "3");
  BOOST_TEST(detail(sink.drafts[2], "error") == "/x/passwords.set does not exist");
  BOOST_TEST(detail(sink.drafts[2], "version") == "<none>");
}

BOOST_FIXTURE_TEST_CASE(the_refresh_audits_changes_and_each_new_refusal_once, report_fixture) {
  server::audited_refusals refusals;
  const auto report = [&](result<reload_outcome> outcome) {
    outcomes attempts;
    attempts.emplace_back(list_id::managed_devices, std::move(outcome));
    server::report_list_outcomes(log, &sink, clock, server::periodic_refresh, attempts, &refusals);
  };
  report(unchanged(list_id::managed_devices));
  BOOST_TEST(sink.drafts.empty());  // a poll that found nothing new
  report(changed(list_id::managed_devices, 2));
  const auto line_2 = make_error(error_kind::invalid_input, "line 2: not a device serial");
  report(line_2);
  report(line_2);  // the same refusal again: not audited again
  report(make_error(error_kind::invalid_input, "line 7: not a device serial"));  // a new one is
  report(unchanged(list_id::managed_devices));  // serving again clears the memory ...
  report(line_2);                               // ... so this refusal is audited
  BOOST_REQUIRE(sink.drafts.size() == 4U);
  BOOST_TEST(sink.drafts[0].outcome == "reloaded");
  BOOST_TEST(detail(sink.drafts[1], "error") == "line 2: not a device serial");
  BOOST_TEST(detail(sink.drafts[2], "error") == "line 7: not a device serial");
  BOOST_TEST(detail(sink.drafts[3], "error") == "line 2: not a device serial");
  for (const auto& draft : sink.drafts) {
    BOOST_TEST(draft.actor_type == "system");
    BOOST_TEST(draft.actor_id == "refresh");
    BOOST_TEST(detail(draft, "trigger") == "refresh");
    BOOST_TEST(detail(draft, "list") == "managed_devices");
  }
}

BOOST_AUTO_TEST_SUITE_END()
