// The timeout of each phase of an HTTP/1.1 exchange: reading a request (its header, then its body)
// and writing its reply each get limits.request_timeout_ms. Between phases (a route running, a
// group commit waiting for the disk) no clock runs. Over TLS, tls_stream's own timer keeps it;
// over plain TCP the connection's entry in the deadline wheel does (net/server_state.hpp), up to
// 200 ms late: the sweep runs every 100 ms over 100 ms ticks.
#pragma once

#include <chrono>

#include "net/server_state.hpp"
#include "net/tls_stream.hpp"

namespace callsign::server::net_detail {

class plain_phase_deadline {
 public:
  explicit plain_phase_deadline(connection& conn) : deadline_(conn.deadline) {}
  void arm(std::chrono::milliseconds timeout) {
    deadline_.until_ms = steady_now_ms() + timeout.count();
    deadline_.set_due(deadline_.until_ms);  // lock-free unless earlier than where it is filed
  }
  void disarm() {
    deadline_.until_ms = deadline_entry::never;
    deadline_.set_due(deadline_entry::never);
  }

 private:
  connection_deadline& deadline_;
};

class tls_phase_deadline {
 public:
  explicit tls_phase_deadline(tls_stream& stream) : stream_(stream) {}
  void arm(std::chrono::milliseconds timeout) { stream_.expires_after(timeout); }
  void disarm() { stream_.expires_never(); }

 private:
  tls_stream& stream_;
};

inline plain_phase_deadline phase_deadline_of(tcp::socket&, connection& conn) {
  return plain_phase_deadline(conn);
}
inline tls_phase_deadline phase_deadline_of(tls_stream& stream, connection&) { return tls_phase_deadline(stream); }

}  // namespace callsign::server::net_detail
