// The HTTPS/WSS listener's OpenSSL context, loaded once at start-up. Private to the net layer;
// OpenSSL's types are only declared here so that including this header stays cheap.
#pragma once

#include <memory>
#include <string>

#include "crypto/result.hpp"
#include "server/config.hpp"

struct ssl_st;  // OpenSSL's SSL

namespace callsign::server::net_detail {

struct tls_free {
  void operator()(ssl_st* ssl) const noexcept;
};
// One connection's TLS state. OpenSSL reads and writes the socket itself (the descriptor is
// non-blocking), so no per-connection ciphertext buffers exist beside OpenSSL's own, which
// SSL_MODE_RELEASE_BUFFERS frees whenever the connection is idle.
using tls_handle = std::unique_ptr<ssl_st, tls_free>;

// Thread-safety: immutable after load(); new_session() may be called from any thread.
class tls_context {
 public:
  // Reads tls.cert_file and tls.key_file. Errors name the file and the problem, never its content.
  static result<std::unique_ptr<tls_context>> load(const tls_config& cfg);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  // A server-side TLS session over the connected socket `fd`, or null if OpenSSL is out of memory.
  tls_handle new_session(int fd) const;

  // For the start-up log: the leaf certificate's subject and expiry.
  const std::string& certificate_subject() const { return subject_; }
  const std::string& certificate_not_after() const { return not_after_; }

 private:
  struct impl;
  explicit tls_context(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  std::string subject_;
  std::string not_after_;
};

}  // namespace callsign::server::net_detail
