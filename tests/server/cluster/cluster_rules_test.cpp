// A node's login rules in a cluster, over an in-memory stand-in for Redis that runs the store
// script's two modes: an install is stored, then installed, then announced; a text that does not
// compile, or a Redis that cannot store it, changes nothing; another node's install is fetched,
// installed, journaled by admin/cluster and not announced again; at start a node behind adopts
// the cluster's file and a node alone seeds it; a revision a failover lost is put back.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "server/cluster/cluster_rules.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

const std::string first_text = "[[rule]]\nid = \"posts\"\nexpression = 'http.request.method eq \"POST\"'\naction = \"block\"\n";
const std::string second_text = "[[rule]]\nid = \"gets\"\nexpression = 'http.request.method eq \"GET\"'\naction = \"log\"\n";

std::string sha(const std::string& text) { return crypto::hex_encode(crypto::sha256(text)); }

bool wait_until(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

redis::reply bulk(std::string text) { return {redis::reply::kind::string, 0, std::move(text), {}}; }
redis::reply integer(std::int64_t n) { return {redis::reply::kind::integer, n, {}, {}}; }

// Hashes with HSET, HGET, HMGET, HGETALL, and EVAL of the store script (its arguments, not its
// Lua: the real script runs in integration_cluster_rules). Fails fast while down.
class rules_redis final : public redis::client {
 public:
  void exec(std::vector<redis::command> commands, storage::completion<std::vector<redis::reply>> done) override {
    std::unique_lock lock(mutex_);
    if (down_) {
      lock.unlock();
      done(make_error(error_kind::unavailable, "redis: not connected"));
      return;
    }
    std::vector<redis::reply> replies;
    for (const auto& c : commands) replies.push_back(run(c));
    lock.unlock();
    done(std::move(replies));
  }
  void send(redis::command) override {}
  redis::client_status status() const override {
    const std::lock_guard lock(mutex_);
    redis::client_status s;
    s.connected = !down_;
    s.primary.epoch = epoch_;
    return s;
  }
  std::uint64_t round_trips() const override { return 0; }
  void stop() override {}

  std::map<std::string, std::string> hash(const std::string& key) const {
    const std::lock_guard lock(mutex_);
    auto found = hashes_.find(key);
    return found == hashes_.end() ? std::map<std::string, std::string>{} : found->second;
  }
  void set_hash(const std::string& key, std::map<std::string, std::string> fields) {
    const std::lock_guard lock(mutex_);
    hashes_[key] = std::move(fields);
  }
  void set_down(bool down) {
    const std::lock_guard lock(mutex_);
    down_ = down;
  }
  void new_primary() {
    const std::lock_guard lock(mutex_);
    ++epoch_;
  }
  int stores() const {
    const std::lock_guard lock(mutex_);
    return stores_;
  }
  int reads(const std::string& command) const {
    const std::lock_guard lock(mutex_);
    auto found = reads_.find(command);
    return found == reads_.end() ? 0 : found->second;
  }

 private:
  redis::reply run(const redis::command& c) {
    if (c.size() > 1 && c[1] == cluster_rules_key) ++reads_[c[0]];
    auto& h = hashes_[c.size() > 1 ? c[1] : ""];
    if (c[0] == "HSET") {
      for (std::size_t i = 2; i + 1 < c.size(); i += 2) h[c[i]] = c[i + 1];
      return integer(1);
    }
    if (c[0] == "HGET") return h.count(c[2]) ? bulk(h[c[2]]) : redis::reply{};
    if (c[0] == "HMGET" || c[0] == "HGETALL") {
      redis::reply r{redis::reply::kind::array, 0, {}, {}};
      if (c[0] == "HMGET") {
        for (std::size_t i = 2; i < c.size(); ++i) r.elements.push_back(h.count(c[i]) ? bulk(h[c[i]]) : redis::reply{});
      } else {
        for (const auto& [field, value] : h) {
          r.elements.push_back(bulk(field));
          r.elements.push_back(bulk(value));
        }
      }
      return r;
    }
    if (c[0] == "EVAL" && c.size() == 10) {
      ++stores_;
      auto& rules = hashes_[c[3]];
      const std::uint64_t current = rules.count("revision") ? std::stoull(rules["revision"]) : 0;
      std::uint64_t revision = std::stoull(c[5]);
      if (c[4] == "next") {
        revision = current + 1;
      } else if (current >= revision) {
        return {redis::reply::kind::array, 0, {}, {integer(0), integer(static_cast<std::int64_t>(current))}};
      }
      rules = {{"revision", std::to_string(revision)}, {"text", c[6]}, {"sha256", c[7]}, {"node", c[8]}, {"at", c[9]}};
      return {redis::reply::kind::array, 0, {}, {integer(1), integer(static_cast<std::int64_t>(revision))}};
    }
    return {redis::reply::kind::error, 0, "ERR unknown command", {}};
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::string, std::string>> hashes_;
  bool down_ = false;
  std::uint64_t epoch_ = 1;
  int stores_ = 0;
  std::map<std::string, int> reads_;  // commands on cs:rules
};

class recording_sink final : public storage::commit_sink {
 public:
  void submit(storage::change_set changes, std::function<void(result<storage::commit_receipt>)> done) override {
    {
      const std::lock_guard lock(mutex_);
      for (auto& draft : changes.audit) drafts_.push_back(std::move(draft));
    }
    done(storage::commit_receipt{});
  }
  storage::group_commit_stats stats() const noexcept override { return {}; }
  std::vector<storage::audit_draft> drafts() const {
    const std::lock_guard lock(mutex_);
    return drafts_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<storage::audit_draft> drafts_;
};

std::string detail(const storage::audit_draft& draft, const std::string& key) {
  for (const auto& [k, v] : draft.details) {
    if (k == key) return v;
  }
  return "<none>";
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// One node ("node-a"): its rule and list registries, its link, and (after start()) its cluster_rules.
struct node_fixture {
  test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  rules_redis redis;
  recording_sink sink;
  storage::block_cache blocks;
  rules_config rules_cfg;
  login_config login;
  std::mutex sent_mutex;
  std::vector<std::string> sent;  // guarded by sent_mutex
  std::unique_ptr<crypto::key_ring> keys;
  std::unique_ptr<list_registry> lists;
  std::unique_ptr<rule_registry> registry;
  std::unique_ptr<cluster_link> link;
  std::unique_ptr<cluster_rules> rules;

  node_fixture() {
    auto ring = crypto::key_ring::generate();
    BOOST_TEST_REQUIRE(ring.has_value());
    keys = std::make_unique<crypto::key_ring>(std::move(*ring));
    lists = std::make_unique<list_registry>(lists_config{}, dir.path(), *keys, clock);
    lists->load_all();
    registry = std::make_unique<rule_registry>(rules_cfg, login, dir.path(), clock);
    link = std::make_unique<cluster_link>(
        "node-a",
        [this](std::string, std::string message) {
          const std::lock_guard lock(sent_mutex);
          sent.push_back(std::move(message));
        },
        blocks, log);
  }
  void start(std::chrono::milliseconds poll = std::chrono::hours(1)) {
    BOOST_TEST_REQUIRE(registry->load(*lists->snapshot()).has_value());
    rules = std::make_unique<cluster_rules>(*registry, *lists, *link, redis, log, &sink, clock, poll);
  }
  ~node_fixture() {
    rules.reset();
    std::fclose(log_sink);
  }
  std::vector<std::string> announcements() {
    const std::lock_guard lock(sent_mutex);
    return sent;
  }
  std::string serving_sha() const { return registry->published()->sha256; }
  std::optional<node_rules_status> status() const {
    const auto hash = redis.hash(std::string(rules_status_key));
    auto found = hash.find("node-a");
    if (found == hash.end()) return std::nullopt;
    auto decoded = decode_node_rules_status(found->first, found->second);
    if (!decoded) return std::nullopt;
    return *decoded;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_rules_suite)

BOOST_FIXTURE_TEST_CASE(an_install_is_stored_then_installed_then_announced, node_fixture) {
  start();
  BOOST_TEST(redis.hash(std::string(cluster_rules_key)).empty());  // no file here, none in Redis
  auto outcome = rules->install(first_text);
  BOOST_REQUIRE(std::holds_alternative<rules_change>(outcome));
  BOOST_TEST(std::get<rules_change>(outcome).changed);
  const auto stored = redis.hash(std::string(cluster_rules_key));
  BOOST_TEST(stored.at("revision") == "1");
  BOOST_TEST(stored.at("text") == first_text);
  BOOST_TEST(stored.at("sha256") == sha(first_text));
  BOOST_TEST(stored.at("node") == "node-a");
  BOOST_TEST(serving_sha() == sha(first_text));
  BOOST_TEST(file_text(registry->path()) == first_text);
  BOOST_TEST(rules->applied_revision() == 1U);
  const auto sent_now = announcements();
  BOOST_REQUIRE(sent_now.size() == 1U);
  BOOST_TEST(sent_now[0] == R"({"type":"rules","node":"node-a","revision":1,"sha256":")" + sha(first_text) + "\"}");
  BOOST_REQUIRE(status().has_value());
  BOOST_TEST(status()->revision == 1U);
  BOOST_TEST(status()->sha256 == sha(first_text));

  // The same text again, at the cluster's revision: unchanged, nothing stored or announced.
  const int stores = redis.stores();
  outcome = rules->install(first_text);
  BOOST_REQUIRE(std::holds_alternative<rules_change>(outcome));
  BOOST_TEST(!std::get<rules_change>(outcome).changed);
  BOOST_TEST(redis.stores() == stores);
  BOOST_TEST(announcements().size() == 1U);

  // A new text takes the next revision.
  BOOST_REQUIRE(std::holds_alternative<rules_change>(rules->install(second_text)));
  BOOST_TEST(redis.hash(std::string(cluster_rules_key)).at("revision") == "2");
  BOOST_TEST(rules->applied_revision() == 2U);
}

BOOST_FIXTURE_TEST_CASE(a_text_that_does_not_compile_changes_nothing_anywhere, node_fixture) {
  start();
  BOOST_REQUIRE(std::holds_alternative<rules_change>(rules->install(first_text)));
  auto outcome = rules->install("[[rule]]\nid = \"bad\"\nexpression = 'http.request.method eq'\naction = \"block\"\n");
  BOOST_REQUIRE(std::holds_alternative<rules::rule_error>(outcome));
  BOOST_TEST(redis.stores() == 1);
  BOOST_TEST(redis.hash(std::string(cluster_rules_key)).at("text") == first_text);
  BOOST_TEST(serving_sha() == sha(first_text));
  BOOST_TEST(announcements().size() == 1U);
}

BOOST_FIXTURE_TEST_CASE(with_redis_away_an_install_is_refused_and_nothing_changes, node_fixture) {
  start();
  redis.set_down(true);
  auto outcome = rules->install(first_text);
  BOOST_REQUIRE(std::holds_alternative<error>(outcome));
  BOOST_TEST((std::get<error>(outcome).kind == error_kind::unavailable));
  BOOST_TEST(std::get<error>(outcome).message.find("posts") == std::string::npos);  // no rule text
  BOOST_TEST(registry->published()->version == 0U);
  BOOST_TEST(!fs::exists(registry->path()));
  BOOST_TEST(announcements().empty());
  // A reload of this node's own file is refused the same way.
  std::ofstream(registry->path()) << first_text;
  BOOST_REQUIRE(std::holds_alternative<error>(rules->reload()));
  BOOST_TEST(registry->published()->version == 0U);
  redis.set_down(false);
  BOOST_REQUIRE(std::holds_alternative<rules_change>(rules->reload()));
  BOOST_TEST(redis.hash(std::string(cluster_rules_key)).at("text") == first_text);
}

BOOST_FIXTURE_TEST_CASE(another_nodes_install_is_fetched_installed_journaled_and_not_announced, node_fixture) {
  start();
  redis.set_hash(std::string(cluster_rules_key),
                 {{"revision", "3"}, {"text", second_text}, {"sha256", sha(second_text)}, {"node", "node-b"}, {"at", "1"}});
  link->on_message(cluster_event_channel,
                   R"({"type":"rules","node":"node-b","revision":3,"sha256":")" + sha(second_text) + "\"}");
  BOOST_TEST_REQUIRE(wait_until([&] { return serving_sha() == sha(second_text); }));
  BOOST_TEST(file_text(registry->path()) == second_text);  // a restart loads the same
  BOOST_TEST_REQUIRE(wait_until([&] { return status() && status()->revision == 3U; }));
  BOOST_TEST(rules->applied_revision() == 3U);
  BOOST_TEST(announcements().empty());
  BOOST_TEST(redis.stores() == 0);
  const auto drafts = sink.drafts();
  BOOST_REQUIRE(!drafts.empty());
  BOOST_TEST(drafts[0].action == "rules.replace");
  BOOST_TEST(drafts[0].actor_type == "admin");
  BOOST_TEST(drafts[0].actor_id == "cluster");
  BOOST_TEST(drafts[0].outcome == "installed");
  BOOST_TEST(detail(drafts[0], "trigger") == "cluster");
  BOOST_TEST(detail(drafts[0], "sha256") == sha(second_text));

  // A revision that does not compile here is refused once, journaled, and the old one serves.
  const std::string bad = "[[rule]]\nid = \"x\"\nexpression = 'nonsense.field eq 1'\naction = \"block\"\n";
  redis.set_hash(std::string(cluster_rules_key),
                 {{"revision", "4"}, {"text", bad}, {"sha256", sha(bad)}, {"node", "node-b"}, {"at", "2"}});
  link->on_message(cluster_event_channel, R"({"type":"rules","node":"node-b","revision":4,"sha256":")" + sha(bad) + "\"}");
  BOOST_TEST_REQUIRE(wait_until([&] { return sink.drafts().size() == drafts.size() + 1; }));
  BOOST_TEST(sink.drafts().back().outcome == "rejected");
  BOOST_TEST(serving_sha() == sha(second_text));
  BOOST_TEST(rules->applied_revision() == 3U);
}

BOOST_FIXTURE_TEST_CASE(at_start_a_node_behind_adopts_the_clusters_file, node_fixture) {
  std::ofstream(registry->path()) << first_text;
  redis.set_hash(std::string(cluster_rules_key),
                 {{"revision", "7"}, {"text", second_text}, {"sha256", sha(second_text)}, {"node", "node-c"}, {"at", "1"}});
  start();
  // Adopted before the constructor returned, so before serving.
  BOOST_TEST(serving_sha() == sha(second_text));
  BOOST_TEST(file_text(registry->path()) == second_text);
  BOOST_TEST(rules->applied_revision() == 7U);
  BOOST_TEST(redis.stores() == 0);
  const auto drafts = sink.drafts();
  BOOST_REQUIRE(!drafts.empty());
  BOOST_TEST(detail(drafts[0], "trigger") == "start");
  BOOST_TEST(detail(drafts[0], "previous_sha256") == sha(first_text));
}

BOOST_FIXTURE_TEST_CASE(at_start_a_node_alone_seeds_the_cluster, node_fixture) {
  std::ofstream(registry->path()) << first_text;
  start();
  const auto stored = redis.hash(std::string(cluster_rules_key));
  BOOST_TEST(stored.at("revision") == "1");
  BOOST_TEST(stored.at("text") == first_text);
  BOOST_TEST(rules->applied_revision() == 1U);
  BOOST_TEST(announcements().size() == 1U);
  BOOST_TEST(sink.drafts().empty());  // nothing installed here
}

BOOST_FIXTURE_TEST_CASE(a_revision_a_failover_lost_is_put_back_and_the_status_sent_again, node_fixture) {
  start(std::chrono::milliseconds(20));
  BOOST_REQUIRE(std::holds_alternative<rules_change>(rules->install(first_text)));
  BOOST_REQUIRE(std::holds_alternative<rules_change>(rules->install(second_text)));
  // The new primary has revision 1 and no statuses.
  redis.set_hash(std::string(cluster_rules_key),
                 {{"revision", "1"}, {"text", first_text}, {"sha256", sha(first_text)}, {"node", "node-a"}, {"at", "1"}});
  redis.set_hash(std::string(rules_status_key), {});
  redis.new_primary();
  BOOST_TEST_REQUIRE(wait_until([&] { return redis.hash(std::string(cluster_rules_key)).at("revision") == "2"; }));
  BOOST_TEST(redis.hash(std::string(cluster_rules_key)).at("text") == second_text);
  BOOST_TEST(serving_sha() == sha(second_text));
  BOOST_TEST_REQUIRE(wait_until([&] { return status() && status()->revision == 2U; }));
}

BOOST_FIXTURE_TEST_CASE(the_tick_reads_the_revision_only_and_a_refused_text_is_not_fetched_again, node_fixture) {
  start(std::chrono::milliseconds(10));
  BOOST_REQUIRE(std::holds_alternative<rules_change>(rules->install(first_text)));
  const int fetched = redis.reads("HGETALL");
  BOOST_TEST_REQUIRE(wait_until([&] { return redis.reads("HMGET") >= 5; }));
  BOOST_TEST(redis.reads("HGETALL") == fetched);  // nothing moved: no text read

  const std::string bad = "[[rule]]\nid = \"x\"\nexpression = 'nonsense.field eq 1'\naction = \"block\"\n";
  redis.set_hash(std::string(cluster_rules_key),
                 {{"revision", "2"}, {"text", bad}, {"sha256", sha(bad)}, {"node", "node-b"}, {"at", "2"}});
  BOOST_TEST_REQUIRE(wait_until([&] { return !sink.drafts().empty(); }));  // refused (found by the tick)
  BOOST_TEST(sink.drafts().back().outcome == "rejected");
  const int after_refusal = redis.reads("HGETALL");
  const int ticks = redis.reads("HMGET");
  BOOST_TEST_REQUIRE(wait_until([&] { return redis.reads("HMGET") >= ticks + 5; }));
  BOOST_TEST(redis.reads("HGETALL") == after_refusal);
  BOOST_TEST(sink.drafts().size() == 1U);  // journaled once
  BOOST_TEST(serving_sha() == sha(first_text));
}

BOOST_AUTO_TEST_SUITE_END()
