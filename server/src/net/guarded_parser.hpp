// Beast's HTTP parser with the two guards Beast 1.81 lacks, for every message callsignd reads
// (requests, and the responses of list servers):
//
// - A field longer than a Beast field can hold (a name or value over 65533 bytes) is the error
//   header_limit (431 for a request), not a std::length_error thrown from inside Beast's read
//   operation, where no handler of ours can catch it and the process ends. A header block stays
//   bounded by header_limit(); a configured limit above 64 KiB no longer lets one long value
//   through to the throw.
// - Trailer fields (the fields after a chunked body's last chunk) are read and dropped: callsign
//   has no use for them, and Beast neither bounds nor size-checks them (one trailer value of
//   64 KiB aborted the server before any authentication). Their total size is bounded by the
//   read buffer's limit (bounded_read_buffer below): past it the read fails with buffer_overflow.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <utility>

namespace callsign::server::net_detail {

// The longest field name or value a Beast field holds (its sizes are 16-bit, with ": " and CRLF).
inline constexpr std::size_t max_field_part = 65533;

template <bool isRequest, class Body>
class guarded_parser final : public boost::beast::http::parser<isRequest, Body> {
  using base = boost::beast::http::parser<isRequest, Body>;

 public:
  using base::base;  // every constructor, including the one from a parser of another body

 private:
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::beast::error_code& ec) override {
    if (this->is_header_done()) return;  // a trailer field: dropped
    if (name_string.size() > max_field_part || value.size() > max_field_part) {
      ec = boost::beast::http::error::header_limit;
      return;
    }
    this->get().insert(name, name_string, value);
  }
};

// `p` as an rvalue of Beast's own parser type, to build a parser of another body from it
// (Beast's converting constructor takes exactly parser<isRequest, OtherBody>&&; given the
// derived type, overload resolution picks its message-forwarding constructor instead).
template <bool isRequest, class Body>
boost::beast::http::parser<isRequest, Body>&& moved_parser(boost::beast::http::parser<isRequest, Body>& p) {
  return std::move(p);
}

template <class Body>
using guarded_request_parser = guarded_parser<true, Body>;
template <class Body>
using guarded_response_parser = guarded_parser<false, Body>;

// A connection's read buffer: large enough for a whole header block (header_limit) plus one read
// ahead, and no larger, so that nothing the parser must hold whole (a trailer) grows without
// bound. Bodies pass through it a read at a time.
inline boost::beast::flat_buffer bounded_read_buffer(std::size_t header_limit) {
  return boost::beast::flat_buffer(header_limit + 64 * 1024);
}

}  // namespace callsign::server::net_detail
