#include "storage/shared_state_format.hpp"

#include <cstddef>
#include <optional>

#include "storage/state_key.hpp"

namespace callsign::storage {

namespace {

constexpr std::size_t replay_mark_size = 1 + 8;
constexpr std::size_t sliding_window_size = 1 + 4 * 8;
constexpr std::size_t rate_window_header_size = 1 + 1 + 2 * 8;
constexpr std::size_t rate_estimate_size = rate_window_header_size + 3 * 8;
constexpr std::size_t rate_log_fixed_size = rate_window_header_size + 2 * 4;
constexpr char estimate_kind = 'e';
constexpr char log_kind = 'l';

void append_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> static_cast<unsigned>(shift))));
  }
}

std::uint64_t read_u64(std::string_view in, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = (v << 8U) | static_cast<std::uint8_t>(in[offset + i]);
  }
  return v;
}

void append_i64(std::string& out, std::int64_t v) {
  append_u64(out, static_cast<std::uint64_t>(v));
}

std::int64_t read_i64(std::string_view in, std::size_t offset) {
  return static_cast<std::int64_t>(read_u64(in, offset));  // two's complement, defined in C++20
}

void append_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> static_cast<unsigned>(shift))));
  }
}

std::uint32_t read_u32(std::string_view in, std::size_t offset) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v = (v << 8U) | static_cast<std::uint8_t>(in[offset + i]);
  }
  return v;
}

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80U) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v | 0x80U)));
    v >>= 7U;
  }
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(v)));
}

// Reads one varint at `offset`, advancing it; nullopt when truncated or longer than 9 bytes
// (63 bits, more than any distance between two valid times).
std::optional<std::uint64_t> read_varint(std::string_view in, std::size_t& offset) {
  std::uint64_t v = 0;
  for (unsigned shift = 0; shift < 63 && offset < in.size(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in[offset++]);
    v |= static_cast<std::uint64_t>(byte & 0x7FU) << shift;
    if ((byte & 0x80U) == 0) {
      return v;
    }
  }
  return std::nullopt;
}

error corrupt(const char* what) {
  // Names the record kind and the defect only: keys hold user ids and addresses.
  return make_error(error_kind::internal, std::string("corrupt ") + what);
}

}  // namespace

std::string replay_mark_record_key(std::string_view user, std::string_view method) {
  return state_key({user, method});
}

std::string encode_replay_mark(std::uint64_t step) {
  std::string out;
  out.reserve(replay_mark_size);
  out.push_back(static_cast<char>(replay_mark_format_version));
  append_u64(out, step);
  return out;
}

result<std::uint64_t> decode_replay_mark(std::string_view value) {
  if (value.size() != replay_mark_size) {
    return corrupt("replay mark record: wrong length");
  }
  if (static_cast<std::uint8_t>(value[0]) != replay_mark_format_version) {
    return corrupt("replay mark record: unknown version");
  }
  return read_u64(value, 1);
}

std::string sliding_window_record_key(std::string_view key) {
  std::string out;
  out.reserve(1 + key.size());
  out.push_back(sliding_window_key_prefix);
  out.append(key);
  return out;
}

std::string encode_sliding_window(const sliding_window_counter& counter) {
  std::string out;
  out.reserve(sliding_window_size);
  out.push_back(static_cast<char>(sliding_window_format_version));
  append_i64(out, counter.window_ms);
  append_i64(out, counter.window_start_ms);
  append_i64(out, counter.previous);
  append_i64(out, counter.current);
  return out;
}

result<sliding_window_counter> decode_sliding_window(std::string_view value) {
  if (value.size() != sliding_window_size) {
    return corrupt("sliding window record: wrong length");
  }
  if (static_cast<std::uint8_t>(value[0]) != sliding_window_format_version) {
    return corrupt("sliding window record: unknown version");
  }
  sliding_window_counter counter;
  counter.window_ms = read_i64(value, 1);
  counter.window_start_ms = read_i64(value, 9);
  counter.previous = read_i64(value, 17);
  counter.current = read_i64(value, 25);
  if (!check_window_arguments(counter.window_start_ms, counter.window_ms)) {
    return corrupt("sliding window record: window out of range");
  }
  if (counter.window_start_ms % counter.window_ms != 0) {
    return corrupt("sliding window record: unaligned window");
  }
  if (counter.previous < 0 || counter.current < 0) {
    return corrupt("sliding window record: negative count");
  }
  return counter;
}

std::string encode_rate_window(const rate_window& window) {
  if (window.legacy && !window.is_log()) {
    return encode_sliding_window(std::get<sliding_window_counter>(window.state));
  }
  std::string out;
  const auto* log = std::get_if<sliding_window_log>(&window.state);
  out.reserve(log != nullptr ? rate_log_fixed_size + 8 + 2 * log->times.size() : rate_estimate_size);
  out.push_back(static_cast<char>(rate_window_format_version));
  out.push_back(log != nullptr ? log_kind : estimate_kind);
  append_i64(out, window.as_of_ms);
  append_i64(out, window.window_ms());
  if (log == nullptr) {
    const auto& counter = std::get<sliding_window_counter>(window.state);
    append_i64(out, counter.window_start_ms);
    append_i64(out, counter.previous);
    append_i64(out, counter.current);
    return out;
  }
  append_u32(out, static_cast<std::uint32_t>(log->capacity));
  append_u32(out, static_cast<std::uint32_t>(log->times.size()));
  for (std::size_t i = 0; i < log->times.size(); ++i) {
    if (i == 0) {
      append_i64(out, log->times[0]);
    } else {
      append_varint(out, static_cast<std::uint64_t>(log->times[i] - log->times[i - 1]));
    }
  }
  return out;
}

namespace {

result<sliding_window_log> decode_log_body(std::string_view value, std::int64_t window_ms) {
  if (value.size() < rate_log_fixed_size) {
    return corrupt("rate log record: wrong length");
  }
  sliding_window_log log;
  log.window_ms = window_ms;
  log.capacity = read_u32(value, rate_window_header_size);
  const std::uint32_t n = read_u32(value, rate_window_header_size + 4);
  if (log.capacity < 1 || log.capacity > max_exact_limit) {
    return corrupt("rate log record: capacity out of range");
  }
  if (n > log.capacity) {
    return corrupt("rate log record: more times than its capacity");
  }
  std::size_t offset = rate_log_fixed_size;
  log.times.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::int64_t t = 0;
    if (i == 0) {
      if (value.size() - offset < 8) {
        return corrupt("rate log record: wrong length");
      }
      t = read_i64(value, offset);
      offset += 8;
    } else {
      auto distance = read_varint(value, offset);
      if (!distance || *distance > static_cast<std::uint64_t>(max_time_ms)) {
        return corrupt("rate log record: bad time distance");
      }
      t = log.times.back() + static_cast<std::int64_t>(*distance);
    }
    if (t < 0 || t > max_time_ms) {
      return corrupt("rate log record: time out of range");
    }
    log.times.push_back(t);
  }
  if (offset != value.size()) {
    return corrupt("rate log record: wrong length");
  }
  return log;
}

}  // namespace

result<rate_window> decode_rate_window(std::string_view value) {
  if (value.empty()) {
    return corrupt("rate window record: wrong length");
  }
  if (static_cast<std::uint8_t>(value[0]) == sliding_window_format_version) {
    auto counter = decode_sliding_window(value);
    if (!counter) {
      return counter.error();
    }
    return rate_window{*counter, 0, true};
  }
  if (static_cast<std::uint8_t>(value[0]) != rate_window_format_version) {
    return corrupt("rate window record: unknown version");
  }
  if (value.size() < rate_window_header_size) {
    return corrupt("rate window record: wrong length");
  }
  const std::int64_t as_of = read_i64(value, 2);
  const std::int64_t window_ms = read_i64(value, 10);
  if (!check_window_arguments(as_of, window_ms)) {
    return corrupt("rate window record: window out of range");
  }
  if (value[1] == log_kind) {
    auto log = decode_log_body(value, window_ms);
    if (!log) {
      return log.error();
    }
    return rate_window{std::move(*log), as_of, false};
  }
  if (value[1] != estimate_kind) {
    return corrupt("rate window record: unknown kind");
  }
  if (value.size() != rate_estimate_size) {
    return corrupt("rate window record: wrong length");
  }
  sliding_window_counter counter;
  counter.window_ms = window_ms;
  counter.window_start_ms = read_i64(value, rate_window_header_size);
  counter.previous = read_i64(value, rate_window_header_size + 8);
  counter.current = read_i64(value, rate_window_header_size + 16);
  if (!check_window_arguments(counter.window_start_ms, window_ms) || counter.window_start_ms % window_ms != 0) {
    return corrupt("rate window record: window start out of range or unaligned");
  }
  if (counter.previous < 0 || counter.current < 0) {
    return corrupt("rate window record: negative count");
  }
  return rate_window{counter, as_of, false};
}

}  // namespace callsign::storage
