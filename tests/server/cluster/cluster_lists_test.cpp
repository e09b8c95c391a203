// A node's lists in a cluster, over an in-memory stand-in for Redis: the start-up statuses are
// published, another node's reload runs here and is journaled and published, an admin's reload
// is announced only when it succeeded, a failed publish and a new primary send everything again,
// and the cluster view is read in one HGETALL.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "server/cluster/cluster_lists.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

bool wait_until(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// HSET (any number of pairs) and HGETALL on one hash; fails fast while down.
class hash_redis final : public redis::client {
 public:
  void exec(std::vector<redis::command> commands, storage::completion<std::vector<redis::reply>> done) override {
    std::unique_lock lock(mutex_);
    if (down_) {
      lock.unlock();
      done(make_error(error_kind::unavailable, "redis: not connected"));
      return;
    }
    std::vector<redis::reply> replies;
    for (const auto& c : commands) {
      redis::reply r;
      if (c[0] == "HSET" && c[1] == list_status_key) {
        for (std::size_t i = 2; i + 1 < c.size(); i += 2) hash_[c[i]] = c[i + 1];
        r.type = redis::reply::kind::integer;
      } else if (c[0] == "HGETALL" && c[1] == list_status_key) {
        r.type = redis::reply::kind::array;
        for (const auto& [field, value] : hash_) {
          r.elements.push_back({redis::reply::kind::string, 0, field, {}});
          r.elements.push_back({redis::reply::kind::string, 0, value, {}});
        }
      } else {
        r = {redis::reply::kind::error, 0, "ERR unknown command", {}};
      }
      replies.push_back(std::move(r));
    }
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

  std::map<std::string, std::string> hash() const {
    const std::lock_guard lock(mutex_);
    return hash_;
  }
  void set_hash(std::map<std::string, std::string> hash) {
    const std::lock_guard lock(mutex_);
    hash_ = std::move(hash);
  }
  void set_down(bool down) {
    const std::lock_guard lock(mutex_);
    down_ = down;
  }
  void new_primary() {
    const std::lock_guard lock(mutex_);
    ++epoch_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> hash_;
  bool down_ = false;
  std::uint64_t epoch_ = 1;
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

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string detail(const storage::audit_draft& draft, const std::string& key) {
  for (const auto& [k, v] : draft.details) {
    if (k == key) return v;
  }
  return "<none>";
}

// One node ("node-a") with a managed_devices file, its link and its cluster_lists.
struct node_fixture {
  test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  fs::path devices = dir.path() / "devices.txt";
  hash_redis redis;
  recording_sink sink;
  storage::block_cache blocks;
  std::mutex sent_mutex;
  std::vector<std::string> sent;  // guarded by sent_mutex
  std::unique_ptr<list_registry> registry;
  std::unique_ptr<cluster_link> link;
  std::unique_ptr<cluster_lists> lists;

  explicit node_fixture(std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
    write_text(devices, "SER-1\n");
    lists_config config;
    config.managed_devices.path = devices;
    auto keys = crypto::key_ring::generate();
    BOOST_TEST_REQUIRE(keys.has_value());
    registry = std::make_unique<list_registry>(config, dir.path(), *keys, clock);
    registry->load_all();
    link = std::make_unique<cluster_link>(
        "node-a",
        [this](std::string, std::string message) {
          const std::lock_guard lock(sent_mutex);
          sent.push_back(std::move(message));
        },
        blocks, log);
    lists = std::make_unique<cluster_lists>(*registry, *link, redis, log, &sink, clock, poll);
  }
  ~node_fixture() {
    lists.reset();
    std::fclose(log_sink);
  }

  std::uint64_t published_version(list_id id) {
    const auto hash = redis.hash();
    const auto found = hash.find(list_status_field("node-a", id));
    if (found == hash.end()) return 0;
    auto decoded = decode_node_list_status(found->first, found->second);
    return decoded ? decoded->second.version : 0;
  }
  std::vector<std::string> announcements() {
    const std::lock_guard lock(sent_mutex);
    return sent;
  }
};

// Polls once an hour: what is published here was published at once, not found by a poll.
struct slow_poll_fixture : node_fixture {
  slow_poll_fixture() : node_fixture(std::chrono::hours(1)) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_lists_suite)

BOOST_FIXTURE_TEST_CASE(another_nodes_reload_runs_here_is_journaled_and_published, slow_poll_fixture) {
  BOOST_TEST(redis.hash().size() == all_lists.size());  // the start-up statuses
  BOOST_TEST(published_version(list_id::managed_devices) == 1U);
  write_text(devices, "SER-1\nSER-2\n");
  link->on_message(cluster_event_channel, R"({"type":"lists_reload","node":"node-b","list":"managed_devices"})");
  BOOST_TEST_REQUIRE(wait_until([&] { return published_version(list_id::managed_devices) == 2U; }));
  BOOST_TEST(registry->status(list_id::managed_devices).entries == 2U);
  BOOST_TEST_REQUIRE(wait_until([&] { return !sink.drafts().empty(); }));
  const auto draft = sink.drafts().front();
  BOOST_TEST(draft.action == "lists.reload");
  BOOST_TEST(draft.actor_type == "admin");
  BOOST_TEST(draft.actor_id == "cluster");
  BOOST_TEST(draft.outcome == "reloaded");
  BOOST_TEST(detail(draft, "trigger") == "cluster");
  BOOST_TEST(detail(draft, "version") == "2");
  BOOST_TEST(announcements().empty());  // a reload asked by another node is not announced again
}

BOOST_FIXTURE_TEST_CASE(an_admin_reload_is_announced_only_when_it_succeeded, slow_poll_fixture) {
  write_text(devices, "SER-1\nSER-3\n");
  auto reloaded = registry->reload(list_id::managed_devices);
  BOOST_TEST_REQUIRE(reloaded.has_value());
  lists->reloaded_by_admin(list_id::managed_devices, reloaded);
  BOOST_TEST(published_version(list_id::managed_devices) == 2U);
  const auto announced = announcements();
  BOOST_REQUIRE(announced.size() == 1U);
  auto event = decode_cluster_event(announced.front());
  BOOST_REQUIRE(event.has_value());
  BOOST_TEST((event->kind == cluster_event_kind::lists_reload));
  BOOST_TEST(event->list == "managed_devices");
  BOOST_TEST(event->node == "node-a");

  fs::remove(devices);
  auto refused = registry->reload(list_id::managed_devices);
  BOOST_TEST_REQUIRE(!refused.has_value());
  lists->reloaded_by_admin(list_id::managed_devices, refused);
  BOOST_TEST(announcements().size() == 1U);  // not announced
  const auto hash = redis.hash();
  auto published = decode_node_list_status("node-a/managed_devices", hash.at("node-a/managed_devices"));
  BOOST_REQUIRE(published.has_value());
  BOOST_TEST(!published->second.last_error.empty());  // but its error is shown
}

BOOST_FIXTURE_TEST_CASE(a_failed_publish_and_a_new_primary_send_everything_again, node_fixture) {
  redis.set_down(true);
  write_text(devices, "SER-1\nSER-4\n");
  auto reloaded = registry->reload(list_id::managed_devices);
  BOOST_TEST_REQUIRE(reloaded.has_value());
  lists->publish_changes();  // fails: Redis is down
  BOOST_TEST(published_version(list_id::managed_devices) == 1U);
  redis.set_down(false);
  BOOST_TEST_REQUIRE(wait_until([&] { return published_version(list_id::managed_devices) == 2U; }));

  // A failover lost the writes: the new primary gets every status again.
  redis.set_hash({});
  redis.new_primary();
  BOOST_TEST_REQUIRE(wait_until([&] { return redis.hash().size() == all_lists.size(); }));
}

BOOST_FIXTURE_TEST_CASE(the_cluster_view_is_one_hgetall, node_fixture) {
  auto hash = redis.hash();
  hash["node-b/managed_devices"] = hash.at("node-a/managed_devices");
  redis.set_hash(hash);
  std::optional<result<cluster_list_statuses>> got;
  lists->read([&](result<cluster_list_statuses> view) { got = std::move(view); });
  BOOST_REQUIRE(got.has_value());
  BOOST_REQUIRE(got->has_value());
  const auto& devices_view = (**got).by_list[static_cast<std::size_t>(list_id::managed_devices)];
  BOOST_REQUIRE(devices_view.size() == 2U);
  BOOST_TEST(devices_view[0].node == "node-a");
  BOOST_TEST(devices_view[1].node == "node-b");

  redis.set_down(true);
  got.reset();
  lists->read([&](result<cluster_list_statuses> view) { got = std::move(view); });
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(!got->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
