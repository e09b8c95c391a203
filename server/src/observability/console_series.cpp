#include "server/observability/console_series.hpp"

namespace callsign::server {

namespace {

live_series::cumulative_reader reader(const std::atomic<std::uint64_t>* counter) {
  if (counter == nullptr) return [] { return std::uint64_t{0}; };
  return [counter] { return counter->load(std::memory_order_relaxed); };
}

}  // namespace

void add_console_series(live_series& live, const login_metrics* login, const verify_metrics& verify) {
  auto of = [login](const std::atomic<std::uint64_t> login_metrics::*member) {
    return reader(login != nullptr ? &(login->*member) : nullptr);
  };
  live.add("login_checks.allow", of(&login_metrics::checks_allowed));
  live.add("login_checks.block", of(&login_metrics::checks_blocked));
  live.add("login_checks.challenge", of(&login_metrics::checks_challenged));
  live.add("login.failures", of(&login_metrics::failures));
  live.add("blocks.new", of(&login_metrics::blocks_created));
  live.add("matches.open_proxy", of(&login_metrics::open_proxy_matches));
  live.add("matches.exposed_credential", of(&login_metrics::exposed_credential_matches));
  live.add("verify.valid", reader(&verify.valid));
  live.add("verify.invalid", reader(&verify.invalid));
  live.add("verify.replayed", reader(&verify.replayed));
  live.add("verify.throttled", reader(&verify.throttled));
}

}  // namespace callsign::server
