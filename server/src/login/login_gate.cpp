#include "server/login/login_gate.hpp"

namespace callsign::server {

namespace {
std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// One hop: "addr", "[v6]", "[v6]:port" or "v4:port".
std::optional<ip_address> parse_hop(std::string_view hop) {
  hop = trim(hop);
  if (!hop.empty() && hop.front() == '[') {
    const auto close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto rest = hop.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    return parse_ip_address(hop.substr(1, close - 1));
  }
  if (const auto colon = hop.find(':');
      colon != std::string_view::npos && hop.find(':', colon + 1) == std::string_view::npos) {
    return parse_ip_address(hop.substr(0, colon));  // IPv4 with a port
  }
  return parse_ip_address(hop);
}

bool trusted(const ip_address& address, const std::vector<ip_network>& proxies) {
  for (const auto& network : proxies) {
    if (network.contains(address)) return true;
  }
  return false;
}
}  // namespace

result<ip_address> gate_client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                                       std::optional<std::string_view> real_ip,
                                       const std::vector<ip_network>& trusted_proxies) {
  auto peer_address = parse_ip_address(peer);
  if (!peer_address) {
    return make_error(error_kind::internal, "the connection's peer address is unknown");
  }
  if (!trusted(*peer_address, trusted_proxies)) return *peer_address;
  if (forwarded_for && !trim(*forwarded_for).empty()) {
    std::vector<ip_address> hops;
    std::string_view rest = *forwarded_for;
    while (true) {
      const auto comma = rest.find(',');
      const auto element = rest.substr(0, comma);
      if (!trim(element).empty()) {  // an empty element is ignored (RFC 9110 §5.6.1)
        auto hop = parse_hop(element);
        if (!hop) {
          return make_error(error_kind::invalid_input, "header 'X-Forwarded-For' is not a list of addresses");
        }
        hops.push_back(*hop);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      if (!trusted(*it, trusted_proxies)) return *it;
    }
    if (!hops.empty()) return hops.front();
    // Only empty elements (", ,"): as if the header were absent.
  }
  if (real_ip && !trim(*real_ip).empty()) {
    auto address = parse_hop(*real_ip);
    if (!address) {
      return make_error(error_kind::invalid_input, "header 'X-Real-IP' is not an address");
    }
    return *address;
  }
  return *peer_address;
}

result<gate_decision> decide_gate(const login_limiter& limiter, const ip_address& client,
                                  const open_proxy_lookup& open_proxies, std::int64_t now_ms) {
  gate_decision out;
  auto state = check_login(limiter, client, std::nullopt, now_ms);
  if (!state) return state.error();
  if (state->blocked) {
    out.verdict = gate_verdict::blocked;
    out.retry_after_seconds = state->retry_after_seconds;
    out.matched_key = std::move(state->matched_key);
    limiter.metrics().gate_blocked.fetch_add(1, std::memory_order_relaxed);
    return out;
  }
  if (limiter.config().gate_block_open_proxies && open_proxies && open_proxies(client) == open_proxy_answer::listed) {
    // Counted by the route: the rules may still decide otherwise (docs/login-gate.md).
    out.verdict = gate_verdict::open_proxy;
    return out;
  }
  return out;
}

}  // namespace callsign::server
