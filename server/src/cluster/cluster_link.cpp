#include "server/cluster/cluster_link.hpp"

#include "server/stream/stream_hub.hpp"

namespace callsign::server {

cluster_link::cluster_link(std::string node_id, publisher publish, storage::block_cache& blocks, json_log& log)
    : node_id_(std::move(node_id)), publish_(std::move(publish)), blocks_(blocks), log_(log) {}

void cluster_link::announce(const cluster_event& event) {
  publish_(std::string(cluster_event_channel), encode_cluster_event(event));
  counts_.sent.fetch_add(1, std::memory_order_relaxed);
}

void cluster_link::announce_verified(std::string_view user, std::string_view agent, std::string_view method,
                                     std::int64_t at) {
  cluster_event e;
  e.kind = cluster_event_kind::verified;
  e.node = node_id_;
  e.user = user;
  e.agent = agent;
  e.method = method;
  e.at = at;
  announce(e);
}

void cluster_link::announce_authenticator(std::string_view user, std::string_view state, std::int64_t at) {
  cluster_event e;
  e.kind = cluster_event_kind::authenticator_state;
  e.node = node_id_;
  e.user = user;
  e.state = state;
  e.at = at;
  announce(e);
}

void cluster_link::announce_lists_reload(std::string_view list) {
  cluster_event e;
  e.kind = cluster_event_kind::lists_reload;
  e.node = node_id_;
  e.list = list;
  announce(e);
}

void cluster_link::announce_rules(std::uint64_t revision, std::string_view sha256) {
  cluster_event e;
  e.kind = cluster_event_kind::rules_installed;
  e.node = node_id_;
  e.version = revision;
  e.sha256 = sha256;
  announce(e);
}

void cluster_link::on_message(std::string_view channel, std::string_view message) {
  if (channel != cluster_event_channel) {
    return;
  }
  auto event = decode_cluster_event(message);
  if (!event) {
    counts_.malformed.fetch_add(1, std::memory_order_relaxed);
    log_.warn("ignored a malformed cluster event", {{"channel", std::string(channel)}});
    return;
  }
  // What this node announced it has already done locally.
  if (!event->node.empty() && event->node == node_id_) {
    return;
  }
  switch (event->kind) {
    case cluster_event_kind::verified: {
      std::lock_guard lock(hub_mutex_);
      if (hub_ != nullptr) hub_->publish_verified(event->user, event->agent, event->method, event->at);
      break;
    }
    case cluster_event_kind::authenticator_state: {
      std::lock_guard lock(hub_mutex_);
      if (hub_ != nullptr) hub_->publish_authenticator(event->user, event->state, event->at);
      break;
    }
    case cluster_event_kind::block:
      blocks_.apply(event->block);
      break;
    case cluster_event_kind::unblock:
      blocks_.remove(event->block.key);
      break;
    case cluster_event_kind::lists_reload: {
      std::lock_guard lock(reload_mutex_);
      if (reload_list_) reload_list_(event->list);
      break;
    }
    case cluster_event_kind::user_changed:
      if (user_changed_) user_changed_(event->user);
      break;
    case cluster_event_kind::authenticator_changed:
      if (authenticator_changed_) authenticator_changed_(event->user);
      break;
    case cluster_event_kind::rules_installed: {
      std::lock_guard lock(rules_mutex_);
      if (rules_installed_) rules_installed_(event->version);
      break;
    }
  }
  counts_.applied.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace callsign::server
