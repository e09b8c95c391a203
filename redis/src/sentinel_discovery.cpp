// Finding the primary: the configured address, or (sentinel mode) the answer of the first
// sentinel that knows `master_name`; and a subscription to +switch-master on one sentinel that
// resets the primary link when the primary moves (docs/redis-client.md, "Failover").
#include <charconv>

#include "client_core.hpp"

namespace callsign::redis {

namespace {
std::optional<endpoint> parse_endpoint(std::string_view host, std::string_view port) {
  std::uint16_t number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc() || end != port.data() + port.size() || host.empty()) return std::nullopt;
  return endpoint{std::string(host), number};
}

bool same(const endpoint& a, const endpoint& b) { return a.host == b.host && a.port == b.port; }

// Connects to sentinel `index`, authenticates, and sends `then` after AUTH; returns the
// connection and the replies to `then`.
asio::awaitable<result<std::pair<std::shared_ptr<connection>, std::vector<reply>>>> ask_sentinel(
    client_core& core, std::size_t index, std::vector<command> then) {
  const auto& options = core.options;
  const endpoint& at = options.sentinels[index];
  auto made = core.make_connection();
  if (!made) co_return made.error();
  auto conn = std::move(made).value();
  if (auto opened = co_await conn->open(at, options.connect_timeout); !opened) co_return opened.error();
  auto login = sentinel_auth(options);
  if (!login) co_return login.error();
  auto commands = std::move(login).value();
  const std::size_t auth = commands.size();
  commands.insert(commands.end(), then.begin(), then.end());
  auto answers = co_await conn->request(commands, options.command_timeout);
  if (!answers) co_return answers.error();
  const std::string where = "redis sentinel " + to_string(at) + ": ";
  if (auth == 1 && answers->front().is_error()) co_return make_error(error_kind::unavailable, where + refused("AUTH", answers->front()));
  answers->erase(answers->begin(), answers->begin() + static_cast<std::ptrdiff_t>(auth));
  co_return std::make_pair(std::move(conn), std::move(answers).value());
}

// The address in a reply to SENTINEL get-master-addr-by-name, or why there is none.
result<endpoint> master_address(const endpoint& sentinel, const reply& answer) {
  const std::string where = "redis sentinel " + to_string(sentinel) + ": ";
  if (answer.is_error()) return make_error(error_kind::unavailable, where + refused("SENTINEL get-master-addr-by-name", answer));
  if (answer.elements.size() != 2) return make_error(error_kind::unavailable, where + "does not monitor the configured master name");
  auto at = parse_endpoint(answer.elements[0].text, answer.elements[1].text);
  if (!at) return make_error(error_kind::unavailable, where + "answered an address that does not parse");
  return *at;
}

command get_master(const client_options& options) { return {"SENTINEL", "get-master-addr-by-name", options.master_name}; }

// Handles what the watch connection delivers; false when it must be dropped.
bool on_sentinel_event(client_core& core, const reply& event) {
  if (event.type != reply::kind::array || event.elements.size() != 3) return false;
  if (event.elements[0].text != "message") return true;  // the subscribe confirmation
  // "<master name> <old ip> <old port> <new ip> <new port>"
  std::vector<std::string_view> words;
  std::string_view text = event.elements[2].text;
  while (!text.empty()) {
    const auto space = text.find(' ');
    words.push_back(text.substr(0, space));
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
  }
  if (words.size() != 5 || words[0] != core.options.master_name) return true;
  auto to = parse_endpoint(words[3], words[4]);
  if (to && (!core.primary || !same(core.primary->peer(), *to))) core.reset_primary();
  return true;
}
}  // namespace

asio::awaitable<result<endpoint>> discover_primary(client_core& core) {
  const auto& sentinels = core.options.sentinels;
  if (sentinels.empty()) co_return core.options.address;
  std::string last_failure = "redis: no sentinel configured";
  for (std::size_t k = 0; k < sentinels.size() && !core.stopping; ++k) {
    const std::size_t index = (core.sentinel_first + k) % sentinels.size();
    std::vector<command> ask{get_master(core.options)};
    auto asked = co_await ask_sentinel(core, index, std::move(ask));
    if (!asked) {
      last_failure = asked.error().message;
      continue;
    }
    auto at = master_address(sentinels[index], asked->second.front());
    if (!at) {
      last_failure = at.error().message;
      continue;
    }
    core.sentinel_first = index;  // ask this one first next time
    co_return *at;
  }
  co_return make_error(error_kind::unavailable, "no sentinel answered; last: " + last_failure);
}

asio::awaitable<void> run_sentinel_watch(client_core& core) {
  auto delay = core.options.reconnect_min;
  std::size_t next = core.sentinel_first;
  while (!core.stopping) {
    const std::size_t index = next++ % core.options.sentinels.size();
    // The current address first: a switch between discovery and this subscription is seen too.
    std::vector<command> ask{get_master(core.options), {"SUBSCRIBE", "+switch-master"}};
    auto asked = co_await ask_sentinel(core, index, std::move(ask));
    if (asked && !core.stopping) {
      auto conn = asked->first;
      core.sentinel_watch = conn;
      delay = core.options.reconnect_min;
      auto at = master_address(core.options.sentinels[index], asked->second.front());
      if (at && core.primary && !same(core.primary->peer(), *at)) core.reset_primary();
      bool healthy = true;
      while (healthy && conn->is_open() && !core.stopping) {
        auto event = conn->replies().next();
        if (!event) break;
        if (!*event) {
          healthy = static_cast<bool>(co_await conn->read_more());
          continue;
        }
        healthy = on_sentinel_event(core, **event);
      }
      conn->close();
      core.sentinel_watch.reset();
    }
    if (core.stopping) break;
    co_await back_off(core.sentinel_backoff, delay);
    delay = next_backoff(core.options, delay);
  }
}

}  // namespace callsign::redis
