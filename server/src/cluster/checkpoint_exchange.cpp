#include "server/cluster/checkpoint_exchange.hpp"

#include <pthread.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/checkpoint_record.hpp"
#include "crypto/hex.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_links.hpp"

namespace callsign::server {

// What completions hand over, and the counters. Guarded by `mutex`.
struct checkpoint_exchange::state {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool exec_in_flight = false;
  std::optional<result<std::vector<redis::reply>>> answer;  // the last exec's, not yet read
  std::uint64_t answer_xadd_seq = 0;                        // the seq the exec in flight adds to the stream, 0: none
  bool link_in_flight = false;
  std::optional<result<storage::commit_receipt>> link_done;  // the last link commit's, not yet read
  checkpoint_exchange_stats stats;
};

struct checkpoint_exchange::worker {
  worker(checkpoint_exchange_options o, redis::client& c, storage::commit_sink& s, const storage::audit_journal& j,
         const crypto::key_ring& r, const storage::clock& clk, json_log& l, crypto::ed25519_signing_key k,
         std::uint32_t version)
      : options(std::move(o)),
        client(c),
        sink(s),
        journal(j),
        ring(r),
        clock(clk),
        log(l),
        key(std::move(k)),
        key_version(version) {}

  checkpoint_exchange_options options;
  redis::client& client;
  storage::commit_sink& sink;
  const storage::audit_journal& journal;
  const crypto::key_ring& ring;
  const storage::clock& clock;
  json_log& log;
  crypto::ed25519_signing_key key;
  std::uint32_t key_version;
  std::shared_ptr<state> shared = std::make_shared<state>();
  std::thread thread;

  // Exchange thread only.
  std::optional<storage::audit_checkpoint> current;     // what this node publishes
  std::set<std::uint64_t> own_links;                    // seqs of this node's audit.link entries
  std::map<std::string, std::string> seen;              // node -> last record read (linked or refused)
  std::map<std::string, storage::audit_link> accepted;  // node -> its latest verified checkpoint
  std::map<std::string, storage::audit_link> linked;    // node -> what the last link entry holds
  std::map<std::string, storage::audit_link> linking;   // the link entry in flight
  std::map<std::uint32_t, std::optional<crypto::ed25519_public_key>> public_keys;
  std::uint64_t xadded_seq = 0;  // the last checkpoint the stream took
  bool redis_down = false;

  void run();
  void round();
  void publish_head(std::vector<redis::command>& commands, std::uint64_t& xadd_seq);
  void read_answer(result<std::vector<redis::reply>> answer, std::uint64_t xadd_seq);
  void read_latest(const redis::reply& all);
  bool signature_valid(const storage::audit_checkpoint& c);
  void read_link_done(result<storage::commit_receipt> done);
  void link_if_new();
};

void checkpoint_exchange::worker::run() {
  pthread_setname_np(pthread_self(), "callsign-ckpt");
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    std::optional<result<std::vector<redis::reply>>> answer;
    std::optional<result<storage::commit_receipt>> link_done;
    std::uint64_t xadd_seq = 0;
    bool due = false;
    {
      std::unique_lock lock(shared->mutex);
      const auto handed_over = [&] { return shared->stopping || shared->answer || shared->link_done; };
      if (shared->exec_in_flight) {
        shared->wake.wait(lock, handed_over);  // the client always completes (its command timeout bounds it)
      } else {
        shared->wake.wait_until(lock, next, handed_over);
      }
      if (shared->stopping) return;
      answer.swap(shared->answer);
      link_done.swap(shared->link_done);
      xadd_seq = shared->answer_xadd_seq;
      due = !shared->exec_in_flight && std::chrono::steady_clock::now() >= next;
    }
    if (link_done) read_link_done(std::move(*link_done));
    if (answer) read_answer(std::move(*answer), xadd_seq);
    if (due) {
      next = std::chrono::steady_clock::now() + options.interval;
      round();
    }
  }
}

// The head to publish: the journal's last entry, signed, unless everything after the
// checkpoint already published is this node's own audit.link entries (publishing those would
// make every other node link again, and then this one, forever).
void checkpoint_exchange::worker::publish_head(std::vector<redis::command>& commands, std::uint64_t& xadd_seq) {
  auto head = journal.chain_head();
  bool link_pending = false;
  {
    const std::lock_guard lock(shared->mutex);
    link_pending = shared->link_in_flight;
  }
  if (head && head->last_seq > 0 && (!current || head->last_seq != current->seq) && !link_pending) {
    std::uint64_t seq = current ? current->seq + 1 : 1;
    while (seq <= head->last_seq && own_links.contains(seq)) ++seq;
    if (seq <= head->last_seq) {
      auto signed_head =
          storage::sign_audit_checkpoint(key, key_version, head->last_seq, head->last_hash, clock.unix_seconds());
      if (signed_head) {
        current = *signed_head;
        own_links.erase(own_links.begin(), own_links.upper_bound(current->seq));
      }
    }
  } else if (!head) {
    log.warn("audit checkpoint exchange cannot read the journal head", {{"cause", head.error().message}});
  }
  if (!current) return;
  const auto& c = *current;
  if (c.seq != xadded_seq) {  // new, or the stream refused it last round
    xadd_seq = c.seq;
    commands.push_back({"XADD", std::string(audit_checkpoint_stream_key), "MAXLEN", "~",
                        std::to_string(options.stream_max_length), "*", "node", options.node_id, "seq",
                        std::to_string(c.seq), "head", crypto::hex_encode(c.entry_hash), "key_version",
                        std::to_string(c.key_version), "sig", crypto::hex_encode(c.signature), "time",
                        std::to_string(c.time)});
  }
  // Every round, not only when new: it restores the record after a failover lost it.
  commands.push_back({"HSET", std::string(audit_latest_checkpoints_key), options.node_id,
                      encode_checkpoint_record(options.node_id, c)});
}

void checkpoint_exchange::worker::round() {
  std::vector<redis::command> commands;
  std::uint64_t xadd_seq = 0;
  publish_head(commands, xadd_seq);
  commands.push_back({"HGETALL", std::string(audit_latest_checkpoints_key)});
  {
    const std::lock_guard lock(shared->mutex);
    shared->exec_in_flight = true;
    shared->answer_xadd_seq = xadd_seq;
  }
  // Not under the mutex: a client may answer inline.
  client.exec(std::move(commands), [s = shared](result<std::vector<redis::reply>> answer) {
    const std::lock_guard lock(s->mutex);
    s->exec_in_flight = false;
    s->answer = std::move(answer);
    s->wake.notify_all();
  });
}

void checkpoint_exchange::worker::read_answer(result<std::vector<redis::reply>> answer, std::uint64_t xadd_seq) {
  const bool added = answer && xadd_seq != 0 && !answer->empty() && !answer->front().is_error();
  if (added) xadded_seq = xadd_seq;
  {
    const std::lock_guard lock(shared->mutex);
    ++shared->stats.rounds;
    if (!answer) ++shared->stats.rounds_failed;
    if (added) ++shared->stats.published;
  }
  if (!answer || answer->empty() || answer->back().is_error()) {
    if (!redis_down) log.warn("audit checkpoint exchange: Redis did not answer; retrying every round");
    redis_down = true;
    return;
  }
  if (redis_down) log.info("audit checkpoint exchange: Redis answers again");
  redis_down = false;
  read_latest(answer->back());
  link_if_new();
}

// HGETALL cs:audit:latest: field, value, field, value...
void checkpoint_exchange::worker::read_latest(const redis::reply& all) {
  if (all.type != redis::reply::kind::array) return;
  for (std::size_t i = 0; i + 1 < all.elements.size(); i += 2) {
    const std::string& node = all.elements[i].text;
    const std::string& record = all.elements[i + 1].text;
    if (node == options.node_id) continue;
    if (auto it = seen.find(node); it != seen.end() && it->second == record) continue;
    seen[node] = record;
    const bool named = storage::valid_audit_node_id(node);
    const auto checkpoint = named ? parse_checkpoint_record(node, record) : std::nullopt;
    const char* refused = !checkpoint ? "malformed" : !signature_valid(*checkpoint) ? "bad signature" : nullptr;
    if (refused != nullptr) {
      {
        const std::lock_guard lock(shared->mutex);
        ++shared->stats.checkpoints_refused;
      }
      // The node id only when it is one (it came from Redis); never the record or signature.
      log.warn("audit checkpoint of another node refused, not linked",
               {{"node", named ? std::string_view(node) : std::string_view("(invalid)")}, {"reason", refused}});
      continue;
    }
    accepted[node] = {node, checkpoint->seq, checkpoint->entry_hash};
  }
}

bool checkpoint_exchange::worker::signature_valid(const storage::audit_checkpoint& c) {
  auto it = public_keys.find(c.key_version);
  if (it == public_keys.end()) {
    std::optional<crypto::ed25519_public_key> found;
    if (const crypto::master_key* master = ring.find(c.key_version)) {
      if (auto derived = storage::audit_checkpoint_key(*master)) found = derived->public_key();
    }
    it = public_keys.emplace(c.key_version, found).first;
  }
  return it->second && storage::audit_checkpoint_signature_valid(c, *it->second);
}

void checkpoint_exchange::worker::link_if_new() {
  // At most 32 nodes fit one entry's details (docs/audit.md); the rest are not linked.
  std::map<std::string, storage::audit_link> candidates;
  for (const auto& [node, link] : accepted) {
    if (candidates.size() == storage::audit_details_max) break;
    candidates.emplace(node, link);
  }
  bool changed = false;
  for (const auto& [node, link] : candidates) {
    const auto it = linked.find(node);
    changed = changed || it == linked.end() || it->second.seq != link.seq || it->second.head != link.head;
  }
  if (!changed) return;
  {
    const std::lock_guard lock(shared->mutex);
    if (shared->link_in_flight) return;  // the next round links what this one saw
    shared->link_in_flight = true;
  }
  std::vector<storage::audit_link> links;
  for (const auto& [node, link] : candidates) links.push_back(link);
  linking = std::move(candidates);
  storage::change_set change;
  change.add_audit(storage::audit_link_draft(clock.unix_seconds(), links));
  sink.submit(std::move(change), [s = shared](result<storage::commit_receipt> done) {
    const std::lock_guard lock(s->mutex);
    s->link_done = std::move(done);
    s->wake.notify_all();
  });
}

void checkpoint_exchange::worker::read_link_done(result<storage::commit_receipt> done) {
  const std::lock_guard lock(shared->mutex);
  shared->link_in_flight = false;
  if (!done || done->audit_sequences.empty()) {
    ++shared->stats.links_failed;
    return;  // linked stays as it was: the next round tries again
  }
  ++shared->stats.links_written;
  own_links.insert(done->audit_sequences.front());
  for (const auto& [node, link] : linking) linked[node] = link;
}

result<std::unique_ptr<checkpoint_exchange>> checkpoint_exchange::start(
    checkpoint_exchange_options options, redis::client& client, storage::commit_sink& sink,
    const storage::audit_journal& journal, const crypto::key_ring& ring, const storage::clock& clk, json_log& log) {
  if (!storage::valid_audit_node_id(options.node_id)) {
    return make_error(error_kind::invalid_input, "audit checkpoint exchange needs a node id (a-z 0-9 . _ -)");
  }
  if (options.interval <= std::chrono::milliseconds::zero()) options.interval = std::chrono::milliseconds(1000);
  auto key = storage::audit_checkpoint_key(ring.current());
  if (!key) return key.error();
  const std::uint32_t version = ring.current().version;
  auto w = std::unique_ptr<worker>(
      new worker(std::move(options), client, sink, journal, ring, clk, log, std::move(key).value(), version));
  w->thread = std::thread([raw = w.get()] { raw->run(); });
  return std::unique_ptr<checkpoint_exchange>(new checkpoint_exchange(std::move(w)));
}

checkpoint_exchange::checkpoint_exchange(std::unique_ptr<worker> w) : worker_(std::move(w)) {}

checkpoint_exchange::~checkpoint_exchange() {
  stop();
}

void checkpoint_exchange::stop() {
  if (!worker_ || !worker_->thread.joinable()) return;
  {
    const std::lock_guard lock(worker_->shared->mutex);
    worker_->shared->stopping = true;
  }
  worker_->shared->wake.notify_all();
  worker_->thread.join();
}

checkpoint_exchange_stats checkpoint_exchange::stats() const {
  const std::lock_guard lock(worker_->shared->mutex);
  return worker_->shared->stats;
}

}  // namespace callsign::server
