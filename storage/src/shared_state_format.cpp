#include "storage/shared_state_format.hpp"

#include <cstddef>

#include "storage/state_key.hpp"

namespace callsign::storage {

namespace {

constexpr std::size_t replay_mark_size = 1 + 8;
constexpr std::size_t sliding_window_size = 1 + 4 * 8;

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

}  // namespace callsign::storage
