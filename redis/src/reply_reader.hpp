// RESP parsing by hiredis's redisReader (read.h), which does no I/O of its own: bytes in,
// complete replies out, copied into redis::reply values.
// Thread-safety: none; one reader belongs to one connection on the client's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "crypto/result.hpp"
#include "redis/reply.hpp"

struct redisReader;

namespace callsign::redis {

class reply_reader {
 public:
  reply_reader();
  ~reply_reader();
  reply_reader(const reply_reader&) = delete;
  reply_reader& operator=(const reply_reader&) = delete;

  // Appends bytes received from the server.
  result<void> feed(const char* data, std::size_t size);
  // The next complete reply, nullopt when more bytes are needed, an error on a protocol error
  // (the connection must then be dropped).
  result<std::optional<reply>> next();

 private:
  struct deleter {
    void operator()(redisReader* reader) const noexcept;
  };
  std::unique_ptr<redisReader, deleter> reader_;
};

}  // namespace callsign::redis
