// GET /v1/login/gate for nginx auth_request, as plain functions: which address the request
// is really from, and whether to let it through. docs/login-gate.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "server/login/ip_address.hpp"
#include "server/login/login_limits.hpp"

namespace callsign::server {

// The hook to the open_proxies list (the lists part of issue 5 provides it). An empty
// std::function, or one answering no_list_loaded, means no list is loaded: nothing is
// refused as an open proxy. Thread-safety: called concurrently from request threads.
enum class open_proxy_answer { no_list_loaded, listed, not_listed };
using open_proxy_lookup = std::function<open_proxy_answer(const ip_address&)>;

// The client address: the TCP peer, unless the peer is in `trusted_proxies`; then the
// rightmost X-Forwarded-For hop that is not itself a trusted proxy (the leftmost hop when all
// are trusted), or X-Real-IP when there is no X-Forwarded-For. Hops may carry brackets and a
// port ("[2001:db8::1]:443", "203.0.113.7:5000"). invalid_input names the bad header.
result<ip_address> gate_client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                                       std::optional<std::string_view> real_ip,
                                       const std::vector<ip_network>& trusted_proxies);

enum class gate_verdict { allow, blocked, open_proxy };

struct gate_decision {
  gate_verdict verdict = gate_verdict::allow;
  std::int64_t retry_after_seconds = 0;  // blocked only
  std::string matched_key;               // blocked only
};

// Blocked addresses first (429), then, when config().gate_block_open_proxies is set and the
// lookup lists the address, open_proxy (403); otherwise allow (204).
result<gate_decision> decide_gate(const login_limiter& limiter, const ip_address& client,
                                  const open_proxy_lookup& open_proxies, std::int64_t now_ms);

}  // namespace callsign::server
