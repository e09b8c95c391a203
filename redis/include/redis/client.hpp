// A Redis/Valkey client for callsignd's shared state (issue 18, docs/cluster.md): one long-lived
// connection to the primary that carries many pipelined requests at once, found directly or
// through Sentinel, re-established with backoff after any failure, plus one subscriber
// connection for pub/sub. I/O runs on Asio coroutines on the client's own thread; RESP is
// parsed by hiredis's redisReader. This header is Asio-free (pimpl), so the server's core can
// hold a client without seeing Asio.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "redis/reply.hpp"
#include "storage/completion.hpp"

namespace callsign::redis {

struct endpoint {
  std::string host;  // an IP address or a name resolved at each connect
  std::uint16_t port = 6379;
};

// The files are read at every connection attempt (renewed ones need no restart).
struct tls_options {
  bool enabled = false;
  std::string ca_file;      // empty: the system CAs
  std::string cert_file;    // client certificate (optional, for tls-auth-clients)
  std::string key_file;
  std::string server_name;  // SNI and the name checked in the certificate; empty: the host
};

struct client_options {
  // Sentinel mode when `sentinels` is non-empty: the primary of `master_name` is asked of the
  // sentinels in turn, checked with ROLE, and followed on +switch-master. Otherwise `address`.
  std::vector<endpoint> sentinels;
  std::string master_name;
  endpoint address;

  // AUTH <username> <password> when username is set, AUTH <password> when only the password is.
  std::string username;
  std::string password;
  std::string sentinel_username;  // for the sentinels, when they require it
  std::string sentinel_password;
  // When set, the password is read from this file at every connection attempt instead (trailing
  // newlines and spaces dropped), so a rotated password needs no restart; an unreadable or empty
  // file fails the attempt, which is retried with backoff.
  std::string password_file;
  std::string sentinel_password_file;
  tls_options tls;  // for the data connections (sentinels are asked in plain text unless tls.enabled)

  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};  // no reply by then: the connection is reset
  std::chrono::milliseconds reconnect_min{50};      // backoff doubles from here ...
  std::chrono::milliseconds reconnect_max{2000};    // ... up to here

  // The health probe on the primary link, at connect and then every health_interval:
  // `INFO memory` (a maxmemory-policy other than noeviction ends the link, and the handshake
  // refuses such a server: callsign's keys must never be evicted) and, when write_probe_key is
  // set, `SET write_probe_key <ms> PX 60000`, whose refusal (OOM, NOREPLICAS, ...) shows in
  // client_status::writes_refused until a probe write passes again.
  std::chrono::milliseconds health_interval{1000};
  std::string write_probe_key;
};

// What the client is connected to. `epoch` counts distinct primaries seen (by run_id): it
// moves when a failover or a restart put another server process behind the connection.
struct primary_info {
  endpoint address;
  std::string run_id;
  std::uint64_t epoch = 0;
};

struct client_status {
  bool connected = false;      // the primary connection is up and its setup commands passed
  bool subscribed = false;     // the subscriber connection is up with every channel subscribed
  primary_info primary;        // the last primary connected to
  std::string last_error;      // why the last attempt failed (no secrets), empty when none
  std::string writes_refused;  // why the primary refused the last probe write; empty when it took it
  std::uint64_t reconnects = 0;
};

struct client_callbacks {
  // Commands sent first on every new primary connection (after AUTH), before any request: e.g.
  // FUNCTION LOAD and the fence check. An error reply to any of them fails the connection
  // attempt (retried with backoff). Called on the client's thread.
  std::function<std::vector<command>(const primary_info&)> setup_commands;
  // Called with the replies to setup_commands once they all passed.
  std::function<void(const primary_info&, const std::vector<reply>&)> connected;
  // A message on a subscribed channel. Called on the client's thread, in arrival order.
  std::function<void(std::string_view channel, std::string_view message)> message;
  // Connection state changed (up, down, new primary); for logs and readiness.
  std::function<void(const client_status&)> status_changed;
};

// What exec_acknowledged waits for: WAIT <replicas> <timeout_ms>.
struct replica_ack {
  std::int64_t replicas = 1;     // >= 1
  std::int64_t timeout_ms = 100;  // >= 1; WAIT answers with fewer acknowledgements after it
};

// How long round trips took, seen from the caller: from the exec call to its completion (the
// hand-over to the client's thread, the queue behind other execs on the connection, Redis, a
// WAIT when asked for, the reply), for /metrics.
struct latency_histogram {
  static constexpr std::array<double, 10> bounds_seconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                            0.005,  0.01,    0.025,  0.1,   1.0};
  std::array<std::uint64_t, bounds_seconds.size()> at_most{};  // cumulative, per bound
  std::uint64_t count = 0;
  double sum_seconds = 0;
};

// Thread-safety: every member may be called from any thread. Completions and callbacks run on
// the client's own thread and must not block it.
//
// Per request: an exec or exec_acknowledged made inside a storage::round_trip_scope adds one to
// that scope's tally, and its completion runs inside the same scope (storage/round_trip_tally.hpp),
// so the server counts round trips per route. send() is not a round trip and is not counted.
class client {
 public:
  // Starts the client's thread; connecting happens in the background (status() tells).
  static std::unique_ptr<client> start(client_options options, client_callbacks callbacks,
                                       std::vector<std::string> channels);
  virtual ~client() = default;  // stops the thread; pending completions get `unavailable`

  // Sends the commands back to back on the primary connection, pipelined with whatever else is
  // in flight, and answers every reply in order once the last has arrived: ONE round trip.
  // A reply of kind error is a value, not a failure. The call fails with `unavailable` when no
  // primary connection is up (nothing is sent: it fails fast, never queues), or when the
  // connection breaks or times out before every reply arrived (then the commands may or may
  // not have run, and status() already shows the connection down). Messages never contain
  // arguments.
  virtual void exec(std::vector<command> commands, storage::completion<std::vector<reply>> done) = 0;

  // As exec, for writes that must reach `replicas` replicas before they count: the completion
  // waits for a `WAIT replicas timeout_ms` sent after these commands on the same connection,
  // and that WAIT's reply (the number of replicas that acknowledged) is appended as the last
  // reply. Concurrent calls share one WAIT: while one is in flight, the commands of the calls
  // that arrive are sent at once and one WAIT after them covers them all (Redis blocks the
  // connection for the length of a WAIT, so a WAIT per call would let one write through per
  // replica round trip). The default sends the WAIT with the commands, a WAIT per call.
  virtual void exec_acknowledged(std::vector<command> commands, replica_ack ack,
                                 storage::completion<std::vector<reply>> done);

  // Fire-and-forget (e.g. PUBLISH of a notice): sent when connected, dropped otherwise.
  virtual void send(command cmd) = 0;

  virtual client_status status() const = 0;

  // Round trips and commands sent since start (for /metrics).
  virtual std::uint64_t round_trips() const = 0;

  // The wait of every exec and exec_acknowledged answered since start; empty for a test double.
  virtual latency_histogram round_trip_latency() const { return {}; }

  // Stops connecting, fails what is pending with `unavailable`, joins the thread. Idempotent.
  virtual void stop() = 0;

 protected:
  client() = default;
};

}  // namespace callsign::redis
