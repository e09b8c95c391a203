#include "client_core.hpp"

#include "resp_encoding.hpp"

#include <fstream>
#include <iterator>
#include <random>

namespace callsign::redis {

client_core::client_core(client_options options_in, client_callbacks callbacks_in, std::vector<std::string> channels_in)
    : options(std::move(options_in)), callbacks(std::move(callbacks_in)), channels(std::move(channels_in)) {}

namespace {
result<std::shared_ptr<asio::ssl::context>> tls_context_from(const tls_options& tls) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  context->set_verify_mode(asio::ssl::verify_peer, ec);
  if (tls.ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(tls.ca_file, ec);
  }
  if (ec) return make_error(error_kind::unavailable, "redis: TLS CA file cannot be used: " + ec.message());
  if (!tls.cert_file.empty()) {
    context->use_certificate_chain_file(tls.cert_file, ec);
    if (!ec) context->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
    if (ec) return make_error(error_kind::unavailable, "redis: TLS client certificate or key cannot be used: " + ec.message());
  }
  return context;
}
}  // namespace

result<std::shared_ptr<connection>> client_core::make_connection() {
  std::shared_ptr<asio::ssl::context> context = plain_context;
  if (options.tls.enabled) {
    auto loaded = tls_context_from(options.tls);
    if (!loaded) return loaded.error();
    context = std::move(*loaded);
  }
  std::erase_if(connections, [](const auto& weak) { return weak.expired(); });
  auto made = std::make_shared<connection>(io.get_executor(), std::move(context), options.tls.enabled,
                                           options.tls.server_name);
  connections.push_back(made);
  return made;
}

void client_core::submit(std::string encoded, std::size_t count, storage::completion<std::vector<reply>> done,
                         bool counted) {
  if (!primary || !primary->is_open() || stopping) {
    if (done) done(make_error(error_kind::unavailable, "redis: not connected"));
    return;
  }
  if (count == 0) {
    if (done) done(std::vector<reply>{});
    return;
  }
  if (write_buffer.empty()) writer_wake.cancel();
  write_buffer += encoded;
  pending_exec entry;
  entry.expected = count;
  entry.done = std::move(done);
  entry.counted = counted;
  entry.deadline = std::chrono::steady_clock::now() + options.command_timeout;
  pending.push_back(std::move(entry));
  if (pending.size() == 1) watchdog.cancel();  // the watchdog waits for this exec's deadline now
}

void client_core::reset_primary() {
  if (primary) primary->close();
  writer_wake.cancel();
  watchdog.cancel();
  health_timer.cancel();
  primary_backoff.cancel();  // a waiting link tries again at once
}

void client_core::fail_pending(const std::string& why) {
  write_buffer.clear();
  std::deque<pending_exec> failed;
  failed.swap(pending);
  // Parked execs were sent before anything still pending: fail them first, in order.
  std::deque<pending_exec> parked;
  parked.swap(awaiting_ack);
  wait_in_flight = false;
  uncovered.reset();
  for (auto* list : {&parked, &failed}) {
    for (auto& entry : *list) {
      if (entry.done) entry.done(make_error(error_kind::unavailable, why));
    }
  }
}

void client_core::shut_down() {
  stopping = true;
  for (const auto& weak : connections) {
    if (auto conn = weak.lock()) conn->close();
  }
  for (auto* timer : {&writer_wake, &watchdog, &health_timer, &primary_backoff, &sentinel_backoff, &subscriber_wake}) timer->cancel();
  fail_pending("redis: client stopped");
  // Not through update_status: the owner is shutting down and needs no status_changed now.
  std::lock_guard lock(status_mutex_);
  status_.connected = false;
  status_.subscribed = false;
}

client_status client_core::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void client_core::update_status(const std::function<void(client_status&)>& change) {
  client_status copy;
  {
    std::lock_guard lock(status_mutex_);
    change(status_);
    copy = status_;
  }
  if (callbacks.status_changed) callbacks.status_changed(copy);
}

std::vector<command> auth_commands(const std::string& username, const std::string& password) {
  if (password.empty()) return {};
  if (username.empty()) return {{"AUTH", password}};
  return {{"AUTH", username, password}};
}

namespace {
// The password to send: `fixed`, or the file's content when a file is configured. Messages name
// what could not be read, never a byte of it.
result<std::string> password_now(const std::string& file, const std::string& fixed, std::string_view what) {
  if (file.empty()) return fixed;
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(error_kind::unavailable, "redis: cannot read the " + std::string(what) + " file");
  std::string secret{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return make_error(error_kind::unavailable, "redis: cannot read the " + std::string(what) + " file");
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.empty()) return make_error(error_kind::unavailable, "redis: the " + std::string(what) + " file is empty");
  return secret;
}
}  // namespace

result<std::vector<command>> data_auth(const client_options& options) {
  auto password = password_now(options.password_file, options.password, "password");
  if (!password) return password.error();
  return auth_commands(options.username, *password);
}

result<std::vector<command>> sentinel_auth(const client_options& options) {
  auto password = password_now(options.sentinel_password_file, options.sentinel_password, "sentinel password");
  if (!password) return password.error();
  return auth_commands(options.sentinel_username, *password);
}

std::string refused(std::string_view what, const reply& answer) {
  return std::string(what) + " refused (" + error_code(answer) + ")";
}

asio::awaitable<void> back_off(asio::steady_timer& timer, std::chrono::milliseconds delay) {
  // Up to a quarter more, so that many nodes do not retry in step.
  thread_local std::minstd_rand jitter(std::random_device{}());
  const auto extra = std::uniform_int_distribution<long>(0, std::max<long>(0, static_cast<long>(delay.count() / 4)))(jitter);
  timer.expires_after(delay + std::chrono::milliseconds(extra));
  co_await timer.async_wait(use_tuple);
}

std::chrono::milliseconds next_backoff(const client_options& options, std::chrono::milliseconds delay) {
  return std::min(delay * 2, options.reconnect_max);
}

}  // namespace callsign::redis
