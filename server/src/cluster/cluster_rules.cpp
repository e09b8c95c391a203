#include "server/cluster/cluster_rules.hpp"

#include <pthread.h>

#include <cstdlib>
#include <future>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "server/observability/background_audit.hpp"
#include "server/rules/rule_change_audit.hpp"

namespace callsign::server {
namespace {

// A change another node's admin made, installed here: journaled like a SIGHUP's.
constexpr background_actor cluster_actor{"admin", "cluster"};

// Atomic in Redis, sent whole each time (EVAL, not EVALSHA: no script cache a failover could
// empty). `next` takes the revision after the cluster's; `restore` stores only while the
// cluster's revision is below the one given (a first node seeding an empty Redis, or a node
// putting back what a failover lost). Answers {stored (0/1), revision}.
constexpr std::string_view store_script = R"lua(
local current = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
local revision = tonumber(ARGV[2])
if ARGV[1] == 'next' then
  revision = current + 1
elseif current >= revision then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'revision', tostring(revision), 'text', ARGV[3], 'sha256', ARGV[4],
           'node', ARGV[5], 'at', ARGV[6])
return {1, revision}
)lua";

std::string sha256_text(std::string_view text) { return crypto::hex_encode(crypto::sha256(text)); }

hash_fields pairs_of(const redis::reply& all) {
  hash_fields fields;
  for (std::size_t i = 0; i + 1 < all.elements.size(); i += 2) {
    fields.emplace_back(all.elements[i].text, all.elements[i + 1].text);
  }
  return fields;
}

error unexpected(std::string_view command) {
  return make_error(error_kind::unavailable, "unexpected reply from Redis to " + std::string(command));
}

}  // namespace

cluster_rules::cluster_rules(rule_registry& rules, list_registry& lists, cluster_link& link, redis::client& client,
                             json_log& log, storage::commit_sink* writer, const storage::clock& clock,
                             std::chrono::milliseconds poll, std::chrono::milliseconds timeout)
    : rules_(rules),
      lists_(lists),
      link_(link),
      client_(client),
      log_(log),
      writer_(writer),
      clock_(clock),
      poll_(poll),
      timeout_(timeout) {
  link_.on_rules_installed([this](std::uint64_t) { queue_sync(); });
  // Before serving (start-up waited for Redis): a node whose file is behind adopts the cluster's.
  sync(true);
  thread_ = std::thread([this] { run(); });
  link_.attach_rules(this);
}

cluster_rules::~cluster_rules() {
  link_.attach_rules(nullptr);
  link_.on_rules_installed({});  // waits for an event being handed over
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::uint64_t cluster_rules::applied_revision() const {
  const std::lock_guard lock(install_mutex_);
  return applied_;
}

result<std::vector<redis::reply>> cluster_rules::call(std::vector<redis::command> commands) {
  auto promise = std::make_shared<std::promise<result<std::vector<redis::reply>>>>();
  auto answer = promise->get_future();
  client_.exec(std::move(commands), [promise](result<std::vector<redis::reply>> replies) {
    promise->set_value(std::move(replies));
  });
  // The client answers every call within its command timeout; this bound is a backstop.
  if (answer.wait_for(timeout_) != std::future_status::ready) {
    return make_error(error_kind::unavailable, "no reply from Redis in time");
  }
  return answer.get();
}

result<std::uint64_t> cluster_rules::store(std::string_view text, std::string_view sha256, std::uint64_t restore_at) {
  redis::command eval{"EVAL",
                      std::string(store_script),
                      "1",
                      std::string(cluster_rules_key),
                      restore_at == 0 ? "next" : "restore",
                      std::to_string(restore_at),
                      std::string(text),
                      std::string(sha256),
                      link_.node_id(),
                      std::to_string(clock_.unix_ms())};
  auto replies = call({std::move(eval)});
  if (!replies) return replies.error();
  const auto& r = replies->empty() ? redis::reply{} : replies->front();
  if (r.is_error()) {
    // NOREPLICAS, READONLY and the like: Redis's own words, never an argument.
    return make_error(error_kind::unavailable, "Redis refused to store the rules: " + r.text.substr(0, 200));
  }
  if (r.type != redis::reply::kind::array || r.elements.size() != 2 || r.elements[1].integer < 0) {
    return unexpected("the rules store");
  }
  if (r.elements[0].integer == 0) return std::uint64_t{0};  // restore: the cluster is past it
  return static_cast<std::uint64_t>(r.elements[1].integer);
}

rules_outcome cluster_rules::install(std::string_view text) {
  const std::lock_guard lock(install_mutex_);
  const auto snapshot = lists_.snapshot();
  auto compiled = rules_.compile(text, *snapshot);
  if (auto* why = std::get_if<rules::rule_error>(&compiled)) return *why;  // nothing stored anywhere
  const auto sha = sha256_text(text);
  const auto now = rules_.published();
  std::uint64_t revision = applied_;
  bool serving = false;  // this text at the cluster's newest revision already
  if (now->version != 0 && now->sha256 == sha && applied_ != 0) {
    auto head = call({{"HGET", std::string(cluster_rules_key), "revision"}});
    serving = head && !head->empty() && head->front().text == std::to_string(applied_);
  }
  if (!serving) {
    auto stored = store(text, sha, 0);
    if (!stored) {
      log_.warn("rules not installed: Redis could not store them", {{"error", stored.error().message}});
      return make_error(error_kind::unavailable,
                        "the rules were not installed: they could not be stored in Redis for the other nodes (" +
                            stored.error().message + "); nothing changed (docs/cluster.md, \"Rules\")");
    }
    revision = *stored;
  }
  auto outcome = rules_.replace(text);
  if (std::holds_alternative<rules_change>(outcome)) {
    applied_ = revision;
    if (!serving) link_.announce_rules(revision, sha);
    publish_status();
  } else if (!serving) {
    // Stored but not written here (the disk): the next sync installs it from Redis.
    queue_sync();
  }
  return outcome;
}

rules_outcome cluster_rules::reload() {
  auto text = rules_.read_file();
  if (!text) return text.error();
  return install(*text);
}

void cluster_rules::read(storage::completion<cluster_rules_statuses> done) {
  client_.exec({{"HGETALL", std::string(rules_status_key)}, {"HGET", std::string(cluster_rules_key), "revision"}},
               [done = std::move(done)](result<std::vector<redis::reply>> replies) {
                 if (!replies) return done(replies.error());
                 if (replies->size() != 2 || replies->front().type != redis::reply::kind::array ||
                     replies->front().elements.size() % 2 != 0) {
                   return done(unexpected("HGETALL " + std::string(rules_status_key)));
                 }
                 auto statuses = group_rules_statuses(pairs_of(replies->front()));
                 const auto& revision = (*replies)[1];
                 if (revision.type == redis::reply::kind::string) {
                   statuses.revision = std::strtoull(revision.text.c_str(), nullptr, 10);
                 }
                 done(std::move(statuses));
               });
}

void cluster_rules::queue_sync() {
  {
    const std::lock_guard lock(mutex_);
    fetch_ = true;  // several events before the fetch: one fetch
  }
  wake_.notify_all();
}

void cluster_rules::run() {
  pthread_setname_np(pthread_self(), "callsign-crules");
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, poll_, [this] { return stopping_ || fetch_; });
    if (stopping_) return;
    const bool fetch = fetch_;
    fetch_ = false;
    lock.unlock();
    sync(fetch);
    lock.lock();
  }
}

void cluster_rules::sync(bool fetch) {
  const std::lock_guard lock(install_mutex_);
  const auto local = rules_.published();
  if (!fetch && synced_once_) {
    // The usual tick: one small read; the text only when the revision moved.
    auto head = call({{"HMGET", std::string(cluster_rules_key), "revision", "sha256"}});
    if (!head || head->empty() || head->front().elements.size() != 2) return;
    const auto& revision = head->front().elements[0];
    const auto& sha = head->front().elements[1];
    const bool served = revision.text == std::to_string(applied_) && sha.text == local->sha256;
    if (revision.type == redis::reply::kind::string && (served || revision.text == std::to_string(refused_))) {
      publish_status();
      return;
    }
  }
  auto all = call({{"HGETALL", std::string(cluster_rules_key)}});
  if (!all) return;  // Redis away: this node keeps serving what it has; the next tick retries
  if (all->empty() || all->front().type != redis::reply::kind::array) return;
  auto latest = decode_cluster_rule_file(pairs_of(all->front()));
  if (!latest) {
    log_.error("the cluster's rule file in Redis is malformed; keeping this node's",
               {{"key", std::string(cluster_rules_key)}});
    return;
  }
  switch (plan_rules_sync(*latest, applied_, local->sha256, local->version != 0)) {
    case rules_sync_step::adopt:
      adopt(*latest);
      break;
    case rules_sync_step::record:
      applied_ = latest->revision;
      break;
    case rules_sync_step::store: {
      const auto at = std::max<std::uint64_t>(applied_, 1);
      auto stored = store(local->text, local->sha256, at);
      if (!stored) return;
      if (*stored == 0) {
        queue_sync();  // another node stored first: adopt theirs next
        return;
      }
      applied_ = *stored;
      log_.info("rules stored for the cluster", {{"revision", applied_}, {"sha256", local->sha256}});
      link_.announce_rules(applied_, local->sha256);
      break;
    }
    case rules_sync_step::nothing:
      break;
  }
  synced_once_ = true;
  publish_status();
}

void cluster_rules::adopt(const cluster_rule_file& latest) {
  if (latest.revision == refused_) return;  // refused once, logged and audited once
  const std::string trigger = synced_once_ ? "cluster" : "start";
  auto draft = [&](std::string action) {
    auto entry = background_audit(clock_, cluster_actor, std::move(action), "");
    entry.details.emplace_back("trigger", trigger);
    return entry;
  };
  auto outcome = rules_.replace(latest.text);
  if (auto* change = std::get_if<rules_change>(&outcome)) {
    applied_ = latest.revision;
    log_.info("rules installed from the cluster", {{"trigger", trigger},
                                                    {"revision", latest.revision},
                                                    {"from_node", latest.node},
                                                    {"version", change->after->version},
                                                    {"sha256", change->after->sha256}});
    for (auto& entry : rule_change_audit(draft, "rules.replace", *change)) {
      submit_background_audit(writer_, log_, std::move(entry));
    }
    return;
  }
  const bool refused = std::holds_alternative<rules::rule_error>(outcome);
  const std::string message =
      refused ? std::get<rules::rule_error>(outcome).message : std::get<error>(outcome).message;
  // A refusal (this node's config differs) is final for this revision; a disk error is retried.
  if (refused) refused_ = latest.revision;
  log_.error("the cluster's rules could not be installed here; the previous version keeps serving",
             {{"trigger", trigger}, {"revision", latest.revision}, {"from_node", latest.node}, {"error", message}});
  if (refused) submit_background_audit(writer_, log_, rule_refusal_audit(draft("rules.replace"), message));
}

// Sends this node's status when it changed, after a failed send, and to every new primary.
void cluster_rules::publish_status() {
  const auto now = rules_.published();
  node_rules_status status;
  status.version = now->version;
  status.sha256 = now->sha256;
  status.loaded_at = now->loaded_at_ms / 1000;
  status.revision = applied_;
  auto encoded = encode_node_rules_status(status);
  const auto epoch = client_.status().primary.epoch;
  const bool failed = publish_failed_->exchange(false);
  if (encoded == published_status_ && epoch == published_epoch_ && !failed) return;
  published_status_ = encoded;
  published_epoch_ = epoch;
  client_.exec({{"HSET", std::string(rules_status_key), link_.node_id(), std::move(encoded)}},
               [failed_flag = publish_failed_](result<std::vector<redis::reply>> replies) {
                 if (!replies || replies->empty() || replies->front().is_error()) failed_flag->store(true);
               });
}

}  // namespace callsign::server
