// The primary link: find the primary, connect, AUTH, check ROLE, read the run_id, refuse a server
// that may evict keys, run the setup commands, then pipeline every exec on one connection (and
// probe the server's health) until it breaks, times out, turns out not to be a primary any more
// or starts to allow eviction; then back off and start over.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <optional>

#include "client_core.hpp"
#include "primary_health.hpp"
#include "resp_encoding.hpp"

namespace callsign::redis {

namespace {
using namespace asio::experimental::awaitable_operators;

// Replies that say this server cannot serve as the primary any more.
bool primary_lost(const reply& answer) {
  if (!answer.is_error()) return false;
  const std::string code = error_code(answer);
  return code == "READONLY" || code == "LOADING" || code == "MASTERDOWN";
}

std::string run_id_of(const reply& info) { return info_field(info.text, "run_id").value_or(std::string()); }

// Why the link ended, shared by its four coroutines (which live in run_link's frame).
struct link {
  std::shared_ptr<connection> conn;
  std::string why;
  void end(client_core& core, std::string reason) {
    if (why.empty()) why = std::move(reason);
    conn->close();
    core.writer_wake.cancel();
    core.watchdog.cancel();
    core.health_timer.cancel();
  }
};

asio::awaitable<void> write_loop(client_core& core, link& state) {
  co_await asio::this_coro::throw_if_cancelled(false);  // the group's cancel ends us via is_open()
  while (state.conn->is_open()) {
    if (core.write_buffer.empty()) {
      core.writer_wake.expires_at(asio::steady_timer::time_point::max());
      co_await core.writer_wake.async_wait(use_tuple);
      continue;
    }
    std::string out;
    out.swap(core.write_buffer);
    if (auto sent = co_await state.conn->write(out); !sent) state.end(core, sent.error().message);
  }
  state.end(core, "closed");
}

// Hands each reply to the oldest pending exec; answers it once complete.
asio::awaitable<void> read_loop(client_core& core, link& state) {
  co_await asio::this_coro::throw_if_cancelled(false);  // the group's cancel ends us via is_open()
  while (state.conn->is_open()) {
    auto next = state.conn->replies().next();
    if (!next) {
      state.end(core, next.error().message);
      break;
    }
    if (!*next) {
      if (auto more = co_await state.conn->read_more(); !more) state.end(core, more.error().message);
      continue;
    }
    if (core.pending.empty()) {
      state.end(core, "redis " + to_string(state.conn->peer()) + ": a reply nobody asked for");
      break;
    }
    const bool lost = primary_lost(**next);
    const std::string code = lost ? error_code(**next) : std::string();
    pending_exec& front = core.pending.front();
    front.replies.push_back(std::move(**next));
    if (front.replies.size() == front.expected) {
      pending_exec answered = std::move(front);
      core.pending.pop_front();
      core.complete(std::move(answered));
    }
    if (lost) state.end(core, "redis " + to_string(state.conn->peer()) + ": no longer a usable primary (" + code + ")");
  }
  state.end(core, "closed");
}

// Ends the link when the oldest pending exec has had no complete answer for command_timeout.
// After a quiet command_timeout it sends a PING, so an idle link to a dead or frozen server is
// noticed too (and status().connected turns false) within about twice the timeout.
asio::awaitable<void> watch_loop(client_core& core, link& state) {
  co_await asio::this_coro::throw_if_cancelled(false);  // the group's cancel ends us via is_open()
  std::string ping;
  append_command(ping, {"PING"});
  bool quiet = false;  // the last wait began with nothing pending
  while (state.conn->is_open()) {
    if (core.pending.empty()) {
      if (quiet) {
        quiet = false;
        core.submit(ping, 1, {});
        continue;
      }
      quiet = true;
      core.watchdog.expires_after(core.options.command_timeout);
    } else if (core.pending.front().deadline <= std::chrono::steady_clock::now()) {
      state.end(core, "redis " + to_string(state.conn->peer()) + ": no reply within the command timeout");
      break;
    } else {
      quiet = false;
      core.watchdog.expires_at(core.pending.front().deadline);
    }
    co_await core.watchdog.async_wait(use_tuple);
  }
  state.end(core, "closed");
}

// Probes the primary at once and then every health_interval (primary_health.hpp): a server that
// may now evict keys ends the link (the handshake then refuses it until it is fixed); a refused
// probe write shows in the status until a probe write passes again.
asio::awaitable<void> health_loop(client_core& core, link& state) {
  co_await asio::this_coro::throw_if_cancelled(false);  // the group's cancel ends us via is_open()
  const bool writes = !core.options.write_probe_key.empty();
  std::string probe;
  append_command(probe, {"INFO", "memory"});
  if (writes) append_command(probe, {"SET", core.options.write_probe_key, "1", "PX", "60000"});
  bool first = true;
  while (state.conn->is_open()) {
    if (!first) {
      core.health_timer.expires_after(core.options.health_interval);
      co_await core.health_timer.async_wait(use_tuple);
      if (!state.conn->is_open()) break;
    }
    first = false;
    auto answer = std::make_shared<std::optional<result<std::vector<reply>>>>();
    core.submit(
        probe, writes ? 2 : 1,
        [answer, &core](result<std::vector<reply>> replies) {
          *answer = std::move(replies);
          core.health_timer.cancel();
        },
        /*counted=*/false);
    if (!*answer) {
      core.health_timer.expires_at(asio::steady_timer::time_point::max());
      co_await core.health_timer.async_wait(use_tuple);
    }
    if (!*answer || !**answer) break;  // the link ended, for its own reason
    const std::vector<reply>& replies = ***answer;
    if (auto problem = eviction_problem(replies.front()); !problem.empty()) {
      state.end(core, "redis " + to_string(state.conn->peer()) + ": " + problem);
      break;
    }
    if (writes) {
      auto refusal = write_refusal(replies.back());
      if (refusal != core.status().writes_refused) {
        core.update_status([&](client_status& status) { status.writes_refused = std::move(refusal); });
      }
    }
  }
  state.end(core, "closed");
}

// Connects and runs the handshake; the connection is ready for the pipeline when it returns one.
asio::awaitable<result<std::shared_ptr<connection>>> establish(client_core& core, endpoint at) {
  const auto& options = core.options;
  auto made = core.make_connection();
  if (!made) co_return made.error();
  auto conn = std::move(made).value();
  if (auto opened = co_await conn->open(at, options.connect_timeout); !opened) co_return opened.error();
  auto auth = data_auth(options);
  if (!auth) co_return auth.error();
  auto hello = std::move(auth).value();
  const bool authenticates = !hello.empty();
  hello.push_back({"ROLE"});
  hello.push_back({"INFO", "server"});
  hello.push_back({"INFO", "memory"});
  auto answers = co_await conn->request(hello, options.command_timeout);
  if (!answers) co_return answers.error();
  const std::string where = "redis " + to_string(at) + ": ";
  if (authenticates && (*answers)[0].is_error()) co_return make_error(error_kind::unavailable, where + refused("AUTH", (*answers)[0]));
  const reply& role = (*answers)[hello.size() - 3];
  if (role.is_error()) co_return make_error(error_kind::unavailable, where + refused("ROLE", role));
  if (role.elements.empty() || role.elements[0].text != "master") {
    co_return make_error(error_kind::unavailable, where + "not a primary (ROLE says " +
                                                      (role.elements.empty() ? std::string("nothing") : role.elements[0].text) + ")");
  }
  const reply& server_info = (*answers)[hello.size() - 2];
  if (server_info.is_error()) co_return make_error(error_kind::unavailable, where + refused("INFO server", server_info));
  if (auto problem = eviction_problem(answers->back()); !problem.empty()) {
    co_return make_error(error_kind::unavailable, where + problem);
  }
  const std::string run_id = run_id_of(server_info);
  if (run_id.empty()) co_return make_error(error_kind::unavailable, where + "INFO server has no run_id");
  if (run_id != core.last_run_id || core.epoch == 0) {
    core.last_run_id = run_id;
    ++core.epoch;
  }
  const primary_info info{at, run_id, core.epoch};
  std::vector<command> setup = core.callbacks.setup_commands ? core.callbacks.setup_commands(info) : std::vector<command>{};
  std::vector<reply> setup_replies;
  if (!setup.empty()) {
    auto done = co_await conn->request(setup, options.command_timeout);
    if (!done) co_return done.error();
    for (std::size_t i = 0; i < done->size(); ++i) {
      if ((*done)[i].is_error()) {
        co_return make_error(error_kind::unavailable, where + refused("setup command " + std::to_string(i + 1) + " of " +
                                                                           std::to_string(setup.size()), (*done)[i]));
      }
    }
    setup_replies = std::move(done).value();
  }
  core.update_status([&](client_status& status) {
    if (status.primary.epoch != 0) ++status.reconnects;
    status.connected = true;
    status.primary = info;
    status.last_error.clear();
  });
  if (core.callbacks.connected) core.callbacks.connected(info, setup_replies);
  co_return conn;
}
}  // namespace

asio::awaitable<void> run_primary_link(client_core& core) {
  auto delay = core.options.reconnect_min;
  while (!core.stopping) {
    std::string why;
    auto at = co_await discover_primary(core);
    if (at && !core.stopping) {
      auto ready = co_await establish(core, *at);
      if (ready && !core.stopping) {
        link state{*ready, {}};
        core.primary = state.conn;
        core.subscriber_wake.cancel();  // the subscriber follows this connection
        co_await (write_loop(core, state) || read_loop(core, state) || watch_loop(core, state) ||
                  health_loop(core, state));
        core.primary.reset();
        if (core.subscriber) core.subscriber->close();
        why = state.why;
        delay = core.options.reconnect_min;
      } else if (!ready) {
        why = ready.error().message;
      }
    } else if (!at) {
      why = at.error().message;
    }
    // The status first: a caller answered `unavailable` below then already reads it as down.
    if (!core.stopping) {
      core.update_status([&](client_status& status) {
        status.connected = false;
        status.last_error = why;
      });
    }
    core.fail_pending(why.empty() ? "redis: connection lost" : why);
    if (core.stopping) break;
    co_await back_off(core.primary_backoff, delay);
    delay = next_backoff(core.options, delay);
  }
}

}  // namespace callsign::redis
