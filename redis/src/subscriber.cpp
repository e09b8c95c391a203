// The subscriber connection: pub/sub on the primary, opened after the primary link is up (so it
// follows the same discovery and failover), closed whenever that link ends, and subscribed
// again each time. Messages published while it is down are lost (pub/sub keeps no history):
// `status().subscribed` going from false to true tells a consumer to assume it missed some.
#include "client_core.hpp"

namespace callsign::redis {

namespace {
constexpr std::string_view subscriber_prefix = "redis subscriber: ";

// Connects to `at`, authenticates and subscribes to every channel; the connection is then
// delivering messages.
asio::awaitable<result<std::shared_ptr<connection>>> subscribe(client_core& core, endpoint at) {
  const auto& options = core.options;
  auto made = core.make_connection();
  if (!made) co_return make_error(error_kind::unavailable, std::string(subscriber_prefix) + made.error().message);
  auto conn = std::move(made).value();
  if (auto opened = co_await conn->open(at, options.connect_timeout); !opened) {
    co_return make_error(error_kind::unavailable, std::string(subscriber_prefix) + opened.error().message);
  }
  auto login = data_auth(options);
  if (!login) co_return make_error(error_kind::unavailable, std::string(subscriber_prefix) + login.error().message);
  auto commands = std::move(login).value();
  const std::size_t auth = commands.size();
  for (const auto& channel : core.channels) commands.push_back({"SUBSCRIBE", channel});  // one reply each
  auto answers = co_await conn->request(commands, options.command_timeout);
  if (!answers) co_return make_error(error_kind::unavailable, std::string(subscriber_prefix) + answers.error().message);
  const std::string where = std::string(subscriber_prefix) + to_string(at) + ": ";
  for (std::size_t i = 0; i < answers->size(); ++i) {
    const reply& answer = (*answers)[i];
    if (answer.is_error()) co_return make_error(error_kind::unavailable, where + refused(i < auth ? "AUTH" : "SUBSCRIBE", answer));
    if (i >= auth && (answer.elements.empty() || answer.elements[0].text != "subscribe")) {
      co_return make_error(error_kind::unavailable, where + "unexpected answer to SUBSCRIBE");
    }
  }
  co_return conn;
}

// Delivers messages until the connection ends (closed with the primary link, or broken).
asio::awaitable<void> deliver(client_core& core, connection& conn) {
  while (conn.is_open() && !core.stopping) {
    auto next = conn.replies().next();
    if (!next) co_return;
    if (!*next) {
      if (auto more = co_await conn.read_more(); !more) co_return;
      continue;
    }
    const reply& event = **next;
    if (event.type == reply::kind::array && event.elements.size() == 3 && event.elements[0].text == "message") {
      if (core.callbacks.message) core.callbacks.message(event.elements[1].text, event.elements[2].text);
    }
  }
}
}  // namespace

asio::awaitable<void> run_subscriber(client_core& core) {
  auto delay = core.options.reconnect_min;
  while (!core.stopping) {
    if (!core.primary || !core.primary->is_open()) {
      // Woken when the primary link comes up (or on shut_down).
      core.subscriber_wake.expires_at(asio::steady_timer::time_point::max());
      co_await core.subscriber_wake.async_wait(use_tuple);
      continue;
    }
    auto subscribed = co_await subscribe(core, core.primary->peer());
    if (!subscribed && !core.stopping) {
      // Reported while the primary link is fine, e.g. an ACL user without the channels.
      core.update_status([&](client_status& status) { status.last_error = subscribed.error().message; });
    }
    if (subscribed && !core.stopping) {
      core.subscriber = *subscribed;
      core.update_status([](client_status& status) {
        status.subscribed = true;
        if (status.last_error.rfind(subscriber_prefix, 0) == 0) status.last_error.clear();
      });
      delay = core.options.reconnect_min;
      co_await deliver(core, **subscribed);
      (*subscribed)->close();
      core.subscriber.reset();
      core.update_status([](client_status& status) { status.subscribed = false; });
    }
    if (core.stopping) break;
    co_await back_off(core.subscriber_wake, delay);
    delay = next_backoff(core.options, delay);
  }
}

}  // namespace callsign::redis
