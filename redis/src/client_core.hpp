// The state behind redis::client, shared by the coroutines that run on the client's thread:
// the primary link (primary_link.cpp), sentinel discovery and watching (sentinel_discovery.cpp)
// and the subscriber (subscriber.cpp). client.cpp owns it and the thread.
// Thread-safety: `status_mutex` guards `status_`; `stopping` and `round_trips` are atomic;
// everything else is touched only on the client's thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "redis/client.hpp"

namespace callsign::redis {

// One exec (or send) in flight on the primary connection, answered when `expected` replies came.
struct pending_exec {
  std::size_t expected = 0;
  std::vector<reply> replies;
  storage::completion<std::vector<reply>> done;  // empty for send() and for the shared WAIT
  std::chrono::steady_clock::time_point deadline;
  // exec_acknowledged: the exec is answered when WAIT number `ack_wait` answers, not before.
  std::optional<replica_ack> ack;
  std::uint64_t ack_wait = 0;
  bool is_wait = false;  // the shared WAIT itself (number ack_wait)
  bool counted = true;   // in round_trips(); false for the client's own health probe
};

struct client_core {
  client_core(client_options options_in, client_callbacks callbacks_in, std::vector<std::string> channels_in);

  client_options options;
  client_callbacks callbacks;
  std::vector<std::string> channels;

  asio::io_context io{1};
  // For plain connections (the stream type is the same; no handshake is made with it).
  std::shared_ptr<asio::ssl::context> plain_context =
      std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);

  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> round_trips{0};

  // The primary link (client thread only).
  std::shared_ptr<connection> primary;  // set while the link is up and past its setup
  std::deque<pending_exec> pending;
  std::string write_buffer;
  asio::steady_timer writer_wake{io};
  asio::steady_timer watchdog{io};
  asio::steady_timer health_timer{io};  // the health probe's interval, and its wait for the answer
  asio::steady_timer primary_backoff{io};
  std::string last_run_id;
  std::uint64_t epoch = 0;

  // Sentinel mode (client thread only): the sentinel to ask first, and the subscriber to
  // +switch-master.
  std::size_t sentinel_first = 0;
  std::shared_ptr<connection> sentinel_watch;
  asio::steady_timer sentinel_backoff{io};

  // Pub/sub (client thread only).
  std::shared_ptr<connection> subscriber;
  asio::steady_timer subscriber_wake{io};

  // Every connection made, so that shut_down can close one still being set up.
  std::vector<std::weak_ptr<connection>> connections;
  // A new connection; with options.tls.enabled its TLS context is made from the configured files
  // now, so that renewed certificates and a new CA need no restart. Fails when they cannot be
  // used (the message names which file setting, never a key's content).
  result<std::shared_ptr<connection>> make_connection();

  // Replica acknowledgements (client thread only; replica_acks.cpp): the execs whose replies
  // came and that wait for their WAIT, oldest first; how many WAITs were sent; whether one is
  // in flight; the strongest WAIT wanted by execs sent since the last one.
  std::deque<pending_exec> awaiting_ack;
  std::uint64_t waits_sent = 0;
  bool wait_in_flight = false;
  std::optional<replica_ack> uncovered;

  // Queues encoded commands on the primary link, or answers `unavailable` when it is down.
  void submit(std::string encoded, std::size_t count, storage::completion<std::vector<reply>> done,
              bool counted = true);
  // The same for exec_acknowledged: sends a WAIT after the commands unless one is in flight
  // (then the next WAIT, sent when it answers, covers them).
  void submit_acknowledged(std::string encoded, std::size_t count, replica_ack ack,
                           storage::completion<std::vector<reply>> done);
  // An exec whose replies all came: answered, or parked until its WAIT answers.
  void complete(pending_exec answered);
  // Closes the primary link (a switch, a stale primary): its loop then discovers again.
  void reset_primary();
  // Answers every pending exec with `unavailable` and drops unsent bytes.
  void fail_pending(const std::string& why);
  // Ends every connection and wait; the coroutines then return.
  void shut_down();

  client_status status() const;
  // Changes the status under the lock, then tells callbacks.status_changed (client thread).
  void update_status(const std::function<void(client_status&)>& change);

 private:
  mutable std::mutex status_mutex_;
  client_status status_;
};

// The coroutines, each a loop until `stopping`.
asio::awaitable<void> run_primary_link(client_core& core);
asio::awaitable<void> run_sentinel_watch(client_core& core);
asio::awaitable<void> run_subscriber(client_core& core);

// Where the primary is: `options.address`, or what the sentinels say (sentinel mode).
asio::awaitable<result<endpoint>> discover_primary(client_core& core);

// AUTH for the data connections (empty when no password is configured).
std::vector<command> auth_commands(const std::string& username, const std::string& password);
// The same with the password as configured now: options.password, or the password file read at
// this attempt. For the primary and subscriber connections, and for the sentinels.
result<std::vector<command>> data_auth(const client_options& options);
result<std::vector<command>> sentinel_auth(const client_options& options);
// Why an error reply to a handshake command failed the attempt, with only its error code.
std::string refused(std::string_view what, const reply& answer);

// Sleeps `delay` (cancelled by shut_down or a reset); the caller then checks `stopping`.
asio::awaitable<void> back_off(asio::steady_timer& timer, std::chrono::milliseconds delay);
std::chrono::milliseconds next_backoff(const client_options& options, std::chrono::milliseconds delay);

}  // namespace callsign::redis
