// Private to the net layer: a Beast request as the Asio-free http_request the router and
// handlers take (server/http/http_types.hpp), and the request id every response carries.
#pragma once

#include <boost/beast/http.hpp>
#include <iterator>
#include <string>
#include <string_view>

#include "crypto/hex.hpp"
#include "net/server_state.hpp"
#include "server/http/http_types.hpp"
#include "server/http/request_framing.hpp"

namespace callsign::server::net_detail {

// A fresh request id: this process's random prefix and a counter.
inline std::string next_request_id(server_state& st) {
  auto n = st.request_counter.fetch_add(1, std::memory_order_relaxed);
  std::string id = st.request_id_prefix;
  id.resize(id.size() + 16);
  for (std::size_t i = id.size(); i-- > id.size() - 16; n >>= 4) {
    id[i] = crypto::hex_digit(static_cast<unsigned>(n & 0xfU));
  }
  return id;
}

inline bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

template <class Body>
http_request to_plain_header(const beast::http::request<Body>& req, std::string remote, server_state& st) {
  http_request plain;
  plain.method = parse_http_method(std::string_view(req.method_string().data(), req.method_string().size()));
  plain.target = std::string(req.target());
  auto q = plain.target.find('?');
  plain.path = plain.target.substr(0, q);
  if (q != std::string::npos) {
    plain.query = plain.target.substr(q + 1);
  }
  plain.headers.reserve(static_cast<std::size_t>(std::distance(req.begin(), req.end())));
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    plain.headers.push_back({std::move(name), std::string(field.value())});
  }
  join_list_fields(plain.headers);  // X-Forwarded-For on two lines is one list (RFC 9110 §5.3)
  plain.remote_address = std::move(remote);
  auto incoming = plain.header("x-request-id");
  plain.request_id = incoming && valid_request_id(*incoming) ? std::string(*incoming) : next_request_id(st);
  return plain;
}

inline http_request to_plain(beast::http::request<beast::http::string_body>&& req, std::string remote, server_state& st) {
  http_request plain = to_plain_header(req, std::move(remote), st);
  plain.body = std::move(req.body());
  return plain;
}

}  // namespace callsign::server::net_detail
