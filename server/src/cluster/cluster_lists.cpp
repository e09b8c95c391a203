#include "server/cluster/cluster_lists.hpp"

#include <pthread.h>

#include <algorithm>

#include "server/lists/list_refresher.hpp"

namespace callsign::server {
namespace {

// A reload another node's admin asked for: journaled like a SIGHUP's, unchanged outcomes too.
constexpr background_actor cluster_actor{"admin", "cluster"};
constexpr list_reload_trigger cluster_reload{"cluster", cluster_actor, true};

}  // namespace

cluster_lists::cluster_lists(list_registry& registry, cluster_link& link, redis::client& client, json_log& log,
                             storage::commit_sink* writer, const storage::clock& clock,
                             std::chrono::milliseconds poll)
    : registry_(registry),
      link_(link),
      client_(client),
      log_(log),
      writer_(writer),
      clock_(clock),
      poll_(poll),
      thread_([this] { run(); }) {
  publish(true);  // the start-up statuses
  link_.on_list_reload([this](const std::string& list) { queue_peer_reload(list); });
  link_.attach_lists(this);
}

cluster_lists::~cluster_lists() {
  link_.attach_lists(nullptr);
  link_.on_list_reload({});  // waits for an event being handed over
  registry_.stop_fetches();  // shutdown: a fetch in flight must not hold up the join
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void cluster_lists::reloaded_by_admin(list_id id, const result<reload_outcome>& outcome) {
  publish(false);
  if (outcome) link_.announce_lists_reload(list_name(id));
}

void cluster_lists::publish_changes() { publish(false); }

void cluster_lists::read(storage::completion<cluster_list_statuses> done) {
  client_.exec({{"HGETALL", std::string(list_status_key)}}, [done = std::move(done)](
                                                                 result<std::vector<redis::reply>> replies) {
    if (!replies) return done(replies.error());
    const auto& all = replies->empty() ? redis::reply{} : replies->front();
    if (all.type != redis::reply::kind::array || all.elements.size() % 2 != 0) {
      return done(make_error(error_kind::unavailable, "unexpected reply from Redis to HGETALL " +
                                                          std::string(list_status_key)));
    }
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(all.elements.size() / 2);
    for (std::size_t i = 0; i + 1 < all.elements.size(); i += 2) {
      fields.emplace_back(all.elements[i].text, all.elements[i + 1].text);
    }
    done(group_list_statuses(fields));
  });
}

void cluster_lists::queue_peer_reload(const std::string& list) {
  const auto id = parse_list_name(list);
  if (!id) {
    log_.warn("ignored a reload of an unknown list from another node");
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    pending_[static_cast<std::size_t>(*id)] = true;  // several events before the reload: one reload
  }
  wake_.notify_all();
}

void cluster_lists::run() {
  pthread_setname_np(pthread_self(), "callsign-clists");
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, poll_, [this] {
      return stopping_ || std::find(pending_.begin(), pending_.end(), true) != pending_.end();
    });
    if (stopping_) return;
    const auto todo = pending_;
    pending_.fill(false);
    lock.unlock();
    for (const auto id : all_lists) {
      if (!todo[static_cast<std::size_t>(id)]) continue;
      // Reported under the registry's reload lock, so the journal holds versions in order.
      (void)registry_.reload(id, [this](list_id reloaded, const result<reload_outcome>& outcome) {
        report_list_outcome(log_, writer_, clock_, cluster_reload, reloaded, outcome);
      });
    }
    publish(false);
    lock.lock();
  }
}

// Reads and sends under one lock, so the last HSET sent holds the newest status.
void cluster_lists::publish(bool everything) {
  const std::lock_guard lock(publish_mutex_);
  const auto epoch = client_.status().primary.epoch;
  // Another primary may have lost the last writes (asynchronous replication): send everything.
  if (epoch != published_epoch_) everything = true;
  if (publish_failed_->exchange(false)) everything = true;
  redis::command hset{"HSET", std::string(list_status_key)};
  for (const auto& status : registry_.statuses()) {
    auto encoded = encode_node_list_status(status);
    auto& last = published_[static_cast<std::size_t>(status.id)];
    if (!everything && encoded == last) continue;
    hset.push_back(list_status_field(link_.node_id(), status.id));
    hset.push_back(encoded);
    last = std::move(encoded);
  }
  if (hset.size() == 2) return;
  published_epoch_ = epoch;
  client_.exec({std::move(hset)}, [failed = publish_failed_](result<std::vector<redis::reply>> replies) {
    if (!replies || replies->empty() || replies->front().is_error()) failed->store(true);
  });
}

}  // namespace callsign::server
