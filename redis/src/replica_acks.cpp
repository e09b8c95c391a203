// exec_acknowledged on the client's thread: one WAIT in flight at a time, shared by every
// acknowledged exec sent before it. Redis processes a connection's commands in order and
// blocks the connection while a WAIT waits, so a WAIT answers for every write sent ahead of it
// on the connection; sending one per exec would let one write through per replica round trip.
#include "client_core.hpp"
#include "resp_encoding.hpp"

#include <algorithm>

namespace callsign::redis {

namespace {

void queue_on_link(client_core& core, std::string_view encoded, pending_exec entry) {
  if (core.write_buffer.empty()) core.writer_wake.cancel();
  core.write_buffer += encoded;
  core.pending.push_back(std::move(entry));
  if (core.pending.size() == 1) core.watchdog.cancel();  // the watchdog waits for this deadline now
}

// Sends the WAIT the execs since the last one want.
void send_wait(client_core& core) {
  const replica_ack ack = *core.uncovered;
  core.uncovered.reset();
  std::string encoded;
  append_command(encoded, {"WAIT", std::to_string(ack.replicas), std::to_string(ack.timeout_ms)});
  pending_exec wait;
  wait.expected = 1;
  wait.deadline = std::chrono::steady_clock::now() + core.options.command_timeout;
  wait.is_wait = true;
  wait.ack_wait = ++core.waits_sent;
  core.wait_in_flight = true;
  queue_on_link(core, encoded, std::move(wait));
}

// WAIT number `number` answered `acks`: every parked exec it covers is answered with it.
void answer_parked(client_core& core, std::uint64_t number, const reply& acks) {
  core.wait_in_flight = false;
  while (!core.awaiting_ack.empty() && core.awaiting_ack.front().ack_wait <= number) {
    pending_exec entry = std::move(core.awaiting_ack.front());
    core.awaiting_ack.pop_front();
    entry.replies.push_back(acks);
    core.round_trips.fetch_add(1, std::memory_order_relaxed);
    if (entry.done) entry.done(std::move(entry.replies));
  }
  // Execs sent while that WAIT was in flight: their commands are ahead of this new WAIT.
  if (core.uncovered) send_wait(core);
}

}  // namespace

void client_core::submit_acknowledged(std::string encoded, std::size_t count, replica_ack ack,
                                      storage::completion<std::vector<reply>> done) {
  if (!primary || !primary->is_open() || stopping) {
    if (done) done(make_error(error_kind::unavailable, "redis: not connected"));
    return;
  }
  if (count == 0 || ack.replicas < 1 || ack.timeout_ms < 1) {
    if (done) done(make_error(error_kind::invalid_input, "redis: an acknowledged exec needs commands and a WAIT of >= 1"));
    return;
  }
  pending_exec entry;
  entry.expected = count;
  entry.done = std::move(done);
  entry.deadline = std::chrono::steady_clock::now() + options.command_timeout;
  entry.ack = ack;
  entry.ack_wait = waits_sent + 1;  // the next WAIT sent goes after these commands
  queue_on_link(*this, encoded, std::move(entry));
  if (uncovered) {
    uncovered->replicas = std::max(uncovered->replicas, ack.replicas);
    uncovered->timeout_ms = std::max(uncovered->timeout_ms, ack.timeout_ms);
  } else {
    uncovered = ack;
  }
  if (!wait_in_flight) send_wait(*this);
}

void client_core::complete(pending_exec answered) {
  if (answered.is_wait) {
    answer_parked(*this, answered.ack_wait, answered.replies.front());
    return;
  }
  if (answered.ack) {
    awaiting_ack.push_back(std::move(answered));  // its WAIT was sent after it, so answers later
    return;
  }
  if (answered.done) {
    if (answered.counted) round_trips.fetch_add(1, std::memory_order_relaxed);
    answered.done(std::move(answered.replies));
  }
}

}  // namespace callsign::redis
