// For the checkpoint exchange tests: a node (journal, writer, log, exchange), a tiny in-memory
// stand-in for the Redis commands the exchange sends, and signed checkpoint records.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "crypto/hex.hpp"
#include "redis/client.hpp"
#include "server/cluster/checkpoint_exchange.hpp"
#include "server/observability/json_log.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_links_support.hpp"  // tests/storage: node_journal, fixed_key_ring

namespace callsign::test {

inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds bound = std::chrono::milliseconds(15000)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The record another node would HSET: its signed checkpoint of (seq, head).
inline std::string signed_record(const std::string& node, std::uint64_t seq, const storage::audit_hash& head,
                                 const crypto::key_ring& ring) {
  auto key = storage::audit_checkpoint_key(ring.current());
  BOOST_REQUIRE(key);
  auto c = storage::sign_audit_checkpoint(*key, ring.current().version, seq, head, 1700000000);
  BOOST_REQUIRE(c);
  return "{\"node\":\"" + node + "\",\"seq\":" + std::to_string(seq) + ",\"head\":\"" + crypto::hex_encode(head) +
         "\",\"key_version\":" + std::to_string(c->key_version) + ",\"sig\":\"" + crypto::hex_encode(c->signature) +
         "\",\"time\":1700000000}";
}

// XADD, HSET and HGETALL on one hash, answered inline; or failed (down), or held unanswered.
// Thread-safety: every member may be called from any thread.
class fake_redis final : public redis::client {
 public:
  void exec(std::vector<redis::command> commands, storage::completion<std::vector<redis::reply>> done) override {
    std::unique_lock lock(mutex_);
    execs_.push_back(commands);
    if (down_) {
      lock.unlock();
      done(make_error(error_kind::unavailable, "Redis is unavailable"));
      return;
    }
    if (hold_) {
      held_.push_back(std::move(done));
      return;
    }
    std::vector<redis::reply> replies;
    for (const auto& c : commands) {
      redis::reply r;
      if (c[0] == "XADD") {
        r.type = redis::reply::kind::string;
        r.text = std::to_string(++stream_length_) + "-0";
      } else if (c[0] == "HSET") {
        r.type = redis::reply::kind::integer;
        latest_[c[2]] = c[3];
      } else if (c[0] == "HGETALL") {
        r.type = redis::reply::kind::array;
        for (const auto& [field, value] : latest_) {
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
  redis::client_status status() const override { return {}; }
  std::uint64_t round_trips() const override { return 0; }
  void stop() override {}

  void set_latest(std::map<std::string, std::string> latest) {
    const std::lock_guard lock(mutex_);
    latest_ = std::move(latest);
  }
  void set_down(bool down) {
    const std::lock_guard lock(mutex_);
    down_ = down;
  }
  void hold(bool hold) {
    const std::lock_guard lock(mutex_);
    hold_ = hold;
  }
  std::size_t held() const {
    const std::lock_guard lock(mutex_);
    return held_.size();
  }
  void release_held() {
    std::vector<storage::completion<std::vector<redis::reply>>> held;
    {
      const std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (auto& done : held) done(std::vector<redis::reply>{});
  }
  // The execs whose HSET (or XADD) names `node`.
  std::vector<std::vector<redis::command>> execs_of(const std::string& node) const {
    const std::lock_guard lock(mutex_);
    std::vector<std::vector<redis::command>> out;
    for (const auto& e : execs_) {
      for (const auto& c : e) {
        if (c[0] == "HSET" && c[2] == node) {
          out.push_back(e);
          break;
        }
      }
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::vector<redis::command>> execs_;
  std::map<std::string, std::string> latest_;
  std::uint64_t stream_length_ = 0;
  bool down_ = false;
  bool hold_ = false;
  std::vector<storage::completion<std::vector<redis::reply>>> held_;
};

// One node: its journal and writer, a log in a temp file, and (once started) its exchange.
struct exchange_node {
  node_journal journal;
  redis::client& redis;
  storage::audit_journal read_journal{*journal.db};
  std::FILE* log_file = std::tmpfile();
  server::json_log log{log_file};
  std::unique_ptr<server::checkpoint_exchange> exchange;

  exchange_node(std::string node, redis::client& client) : journal(std::move(node)), redis(client) {
    BOOST_REQUIRE(log_file != nullptr);
  }
  ~exchange_node() {
    exchange.reset();  // before the writer, the journal and the log it uses
    std::fclose(log_file);
  }

  void start_exchange(std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
    server::checkpoint_exchange_options options;
    options.node_id = journal.node;
    options.interval = interval;
    auto started = server::checkpoint_exchange::start(options, redis, *journal.writer, read_journal, journal.ring,
                                                      journal.clock, log);
    BOOST_REQUIRE_MESSAGE(started, (started ? std::string() : started.error().message));
    exchange = std::move(started).value();
  }

  // Whether some audit.link entry of this node links `node` at `seq` (at the hash that node's
  // checkpoint signed: verify_audit_links checks that part).
  bool holds_link_to(const std::string& node, std::uint64_t seq) const { return count_links(node, seq) > 0; }
  bool holds_any_link_to(const std::string& node) const { return count_links(node, 0) > 0; }

  std::string log_text() const {
    std::fflush(log_file);
    std::string text;
    std::FILE* copy = std::fopen(("/proc/self/fd/" + std::to_string(fileno(log_file))).c_str(), "r");
    BOOST_REQUIRE(copy != nullptr);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, copy)) > 0;) text.append(buffer, n);
    std::fclose(copy);
    return text;
  }

 private:
  std::size_t count_links(const std::string& node, std::uint64_t seq) const {
    std::size_t found = 0;
    auto read = read_journal.for_each_after(0, [&](std::uint64_t, result<storage::audit_entry> entry) {
      if (!entry || entry->action != storage::audit_link_action) return true;
      if (auto links = storage::audit_links_of(*entry)) {
        for (const auto& l : *links) found += (l.node == node && (seq == 0 || l.seq == seq)) ? 1U : 0U;
      }
      return true;
    });
    BOOST_REQUIRE(read);
    return found;
  }
};

inline storage::audit_cross_verification cross_verify(const std::vector<const node_journal*>& nodes) {
  std::vector<storage::audit_journal> journals;
  journals.reserve(nodes.size());
  for (const auto* n : nodes) journals.emplace_back(*n->db);
  std::vector<storage::audit_journal_source> sources;
  for (std::size_t i = 0; i < nodes.size(); ++i) sources.push_back({nodes[i]->node, &journals[i]});
  auto report = storage::verify_audit_links(sources);
  BOOST_REQUIRE(report);
  for (const auto& b : report->broken) BOOST_TEST_MESSAGE("broken: " << b.journal << " " << b.reason);
  return *report;
}

}  // namespace callsign::test
