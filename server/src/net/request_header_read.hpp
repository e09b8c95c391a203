// Reads one request header as http::async_read_header does, under the one timeout the caller
// armed (so a trickle of bytes never extends it), but sees the raw header block before Beast's
// parser unfolds it, and checks the framing rules of server/http/request_framing.hpp. Included by
// http_session.cpp only, so Beast stays in that one translation unit.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "net/server_state.hpp"
#include "server/http/request_framing.hpp"

namespace callsign::server::net_detail {

struct header_read {
  beast::error_code ec;                  // as async_read_header reports it
  std::optional<std::string> refusal;    // a framing rule the header breaks (400, then close)
};

template <class Stream>
net::awaitable<header_read> read_request_header(Stream& stream, beast::flat_buffer& buffer,
                                               beast::http::request_parser<beast::http::empty_body>& header) {
  namespace http = beast::http;
  constexpr auto tuple = net::as_tuple(net::use_awaitable);
  bool folded = false;
  for (;;) {
    if (buffer.size() > 0) {
      const std::string_view pending(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (const auto end = header_block_end(pending)) {
        folded = has_obs_fold(pending.substr(0, *end));
      }
      beast::error_code ec;
      const auto used = header.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec != http::error::need_more) {
        if (ec) {
          co_return header_read{ec, {}};
        }
        if (header.is_header_done()) {
          break;
        }
      }
    }
    const auto space = buffer.prepare(beast::read_size_or_throw(buffer, 65536));
    auto [ec, bytes] = co_await stream.async_read_some(space, tuple);
    if (ec == net::error::eof) {
      co_return header_read{header.got_some() ? http::error::partial_message : http::error::end_of_stream, {}};
    }
    if (ec) {
      co_return header_read{ec, {}};
    }
    buffer.commit(bytes);
  }
  const auto& fields = header.get();
  std::vector<header_view> views;
  views.reserve(static_cast<std::size_t>(std::distance(fields.begin(), fields.end())));
  for (const auto& field : fields) {
    views.push_back({std::string_view(field.name_string().data(), field.name_string().size()),
                     std::string_view(field.value().data(), field.value().size())});
  }
  co_return header_read{{}, request_header_problem(fields.version(), views, folded)};
}

}  // namespace callsign::server::net_detail
