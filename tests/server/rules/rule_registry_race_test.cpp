// The rule registry under concurrent use (also in ./tools/tsan): login checks evaluate while an
// admin replaces the file and list reloads bind $open_proxies before each swap, as
// list_registry does. Every decision must come from one whole version, never a mix; the proxy
// rule sees the list of the snapshot the check holds; nothing may crash or race.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "server/rules/login_decision.hpp"
#include "server/rules/rule_registry.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

// Version "a" challenges POSTs, "b" blocks them; both block the listed proxy first.
std::string version(const char* act) {
  return std::string("[[rule]]\nid = \"proxies\"\nexpression = \"ip.src in $open_proxies\"\naction = \"block\"\n\n"
                     "[[rule]]\nid = \"posts\"\nexpression = 'http.request.method eq \"POST\"'\naction = \"") +
         act + "\"\n";
}

std::shared_ptr<const storage::ip_set> one_address(const char* ip) {
  storage::ip_prefix prefix;
  prefix.address = *storage::parse_ip_address(ip);
  prefix.length = 32;
  return std::make_shared<const storage::ip_set>(storage::ip_set::build({prefix}));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rule_registry_race)

BOOST_AUTO_TEST_CASE(decisions_come_from_whole_versions_while_files_and_lists_change) {
  test::temp_directory dir;
  storage::manual_clock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  rules_config config;
  login_config login;
  rule_registry registry(config, login, dir.path(), clock);
  std::vector<std::shared_ptr<const list_snapshot>> lists(2);
  for (std::size_t i = 0; i < lists.size(); ++i) {
    auto snapshot = std::make_shared<list_snapshot>();
    snapshot->open_proxies = one_address(i == 0 ? "192.0.2.1" : "192.0.2.2");
    lists[i] = std::move(snapshot);
  }
  // The serving snapshot, swapped the way list_registry swaps it: bind first, then serve.
  std::mutex serving_mutex;
  std::shared_ptr<const list_snapshot> serving = lists[0];
  auto serving_now = [&] {
    std::lock_guard lock(serving_mutex);
    return serving;
  };
  BOOST_REQUIRE(registry.load(*lists[0]));
  BOOST_REQUIRE(std::holds_alternative<rules_change>(registry.replace(version("challenge"))));

  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::atomic<long> evaluated{0};
  auto checker = [&] {
    rules::request_fields post;
    post.method = "POST";
    post.ip_src = storage::parse_ip_bytes("198.51.100.7");
    while (!stop.load()) {
      const auto snapshot = serving_now();
      const auto rules = registry.current(*snapshot);
      const auto d = decide_by_rules(*rules, post);
      // Whatever version this is, its own rule decided, with its own action.
      const bool challenge_version = rules->text.find("\"challenge\"") != std::string::npos;
      if (!d.rule || *d.rule != "posts" ||
          d.action != (challenge_version ? login_action::challenge : login_action::block)) {
        mixed.fetch_add(1);
      }
      // The proxy rule sees the list this snapshot holds.
      rules::request_fields proxy;
      proxy.ip_src = storage::parse_ip_bytes(snapshot == lists[0] ? "192.0.2.1" : "192.0.2.2");
      const auto p = decide_by_rules(*rules, proxy);
      if (!p.rule || *p.rule != "proxies") mixed.fetch_add(1);
      evaluated.fetch_add(2);
    }
  };
  std::thread a(checker);
  std::thread b(checker);
  std::thread reloader([&] {
    for (int i = 1; i <= 200; ++i) {
      const auto& next = lists[static_cast<std::size_t>(i % 2)];
      registry.bind(*next);
      std::lock_guard lock(serving_mutex);
      serving = next;
    }
  });
  for (int i = 0; i < 200; ++i) {
    const auto outcome = registry.replace(version(i % 2 == 0 ? "block" : "challenge"));
    BOOST_REQUIRE(std::holds_alternative<rules_change>(outcome));
  }
  reloader.join();
  stop.store(true);
  a.join();
  b.join();
  BOOST_TEST(mixed.load() == 0);
  BOOST_TEST(evaluated.load() > 0);
  BOOST_TEST(registry.published()->version == 201U);
}

BOOST_AUTO_TEST_SUITE_END()
