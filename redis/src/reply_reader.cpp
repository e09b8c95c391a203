#include "reply_reader.hpp"

#include <hiredis/hiredis.h>

#include <new>

namespace callsign::redis {

namespace {
reply convert(const redisReply& from) {
  reply to;
  switch (from.type) {
    case REDIS_REPLY_STRING: to.type = reply::kind::string; break;
    case REDIS_REPLY_STATUS: to.type = reply::kind::status; break;
    case REDIS_REPLY_ERROR: to.type = reply::kind::error; break;
    case REDIS_REPLY_INTEGER: to.type = reply::kind::integer; break;
    case REDIS_REPLY_ARRAY: to.type = reply::kind::array; break;
    default: to.type = reply::kind::nil; break;
  }
  if (from.type == REDIS_REPLY_STRING || from.type == REDIS_REPLY_STATUS || from.type == REDIS_REPLY_ERROR) {
    to.text.assign(from.str, from.len);
  } else if (from.type == REDIS_REPLY_INTEGER) {
    to.integer = from.integer;
  } else if (from.type == REDIS_REPLY_ARRAY) {
    to.elements.reserve(from.elements);
    for (std::size_t i = 0; i < from.elements; ++i) to.elements.push_back(convert(*from.element[i]));
  }
  return to;
}

struct reply_deleter {
  void operator()(void* object) const noexcept { freeReplyObject(object); }
};
}  // namespace

void reply_reader::deleter::operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }

reply_reader::reply_reader() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
}

reply_reader::~reply_reader() = default;

result<void> reply_reader::feed(const char* data, std::size_t size) {
  if (redisReaderFeed(reader_.get(), data, size) != REDIS_OK) {
    return make_error(error_kind::unavailable, "redis: reply buffer failed");
  }
  return {};
}

result<std::optional<reply>> reply_reader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
    // errstr describes the protocol error (a byte it did not expect), never reply content.
    return make_error(error_kind::unavailable, std::string("redis: protocol error: ") + reader_->errstr);
  }
  if (raw == nullptr) return std::optional<reply>{};
  const std::unique_ptr<void, reply_deleter> owned(raw);
  return std::optional<reply>{convert(*static_cast<const redisReply*>(raw))};
}

}  // namespace callsign::redis
