// The HTTPS/WSS listener's OpenSSL context, loaded at start-up and again on SIGHUP. Private to
// the net layer; OpenSSL's types are only declared here so that including this header stays cheap.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "crypto/result.hpp"
#include "server/config/config.hpp"

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

// The context new TLS connections start from. SIGHUP loads the configured certificate and key
// again and, if they load, replaces it; a connection keeps the OpenSSL context it started with
// (OpenSSL counts its uses), so replacing never disturbs open connections.
// Thread-safety: all members may be called from any thread.
class tls_context_slot {
 public:
  explicit tls_context_slot(std::shared_ptr<const tls_context> first) : current_(std::move(first)) {}

  std::shared_ptr<const tls_context> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void replace(std::shared_ptr<const tls_context> next) {
    std::lock_guard lock(mutex_);
    current_.swap(next);  // the old context goes with `next`, after the lock is released
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const tls_context> current_;
};

}  // namespace callsign::server::net_detail
