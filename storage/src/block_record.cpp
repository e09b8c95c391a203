#include "storage/block_record.hpp"

#include <cstddef>

#include "storage/shared_state_format.hpp"
#include "storage/sliding_window.hpp"

namespace callsign::storage {

namespace {
constexpr std::size_t fixed_size = 1 + 4 * 8 + 1;

void append_i64(std::string& out, std::int64_t value) {
  const auto v = static_cast<std::uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v >> static_cast<unsigned>(shift))));
  }
}

std::int64_t read_i64(std::string_view in, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = (v << 8U) | static_cast<std::uint8_t>(in[offset + i]);
  }
  return static_cast<std::int64_t>(v);
}

error corrupt(const char* what) {
  return make_error(error_kind::internal, std::string("corrupt block record: ") + what);
}

bool in_range(std::int64_t t) {
  return t >= 0 && t <= max_time_ms;
}
}  // namespace

std::string block_record_key(std::string_view key) {
  std::string out;
  out.reserve(1 + key.size());
  out.push_back(block_key_prefix);
  out.append(key);
  return out;
}

std::string encode_block_record(const block_record& record) {
  std::string out;
  const auto rule_size = record.rule.size() > 255 ? std::size_t{255} : record.rule.size();
  out.reserve(fixed_size + rule_size);
  out.push_back(static_cast<char>(block_format_version));
  append_i64(out, record.revision);
  append_i64(out, record.until_ms);
  append_i64(out, record.created_ms);
  append_i64(out, record.lifted_ms);
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(rule_size)));
  out.append(record.rule, 0, rule_size);
  return out;
}

result<block_record> decode_block_record(std::string_view value) {
  if (value.size() < fixed_size) {
    return corrupt("wrong length");
  }
  if (static_cast<std::uint8_t>(value[0]) != block_format_version) {
    return corrupt("unknown version");
  }
  block_record r;
  r.revision = read_i64(value, 1);
  r.until_ms = read_i64(value, 9);
  r.created_ms = read_i64(value, 17);
  r.lifted_ms = read_i64(value, 25);
  const auto rule_size = static_cast<std::uint8_t>(value[33]);
  if (value.size() != fixed_size + rule_size) {
    return corrupt("wrong length");
  }
  r.rule.assign(value.substr(fixed_size));
  if (!in_range(r.revision) || !in_range(r.until_ms) || !in_range(r.created_ms) ||
      (r.lifted_ms != -1 && !in_range(r.lifted_ms))) {
    return corrupt("time out of range");
  }
  return r;
}

std::string newer_block_record(std::string_view a, std::string_view b) {
  auto da = decode_block_record(a);
  auto db = decode_block_record(b);
  if (!da) return std::string(b);
  if (!db) return std::string(a);
  if (da->revision != db->revision) {
    return std::string(da->revision > db->revision ? a : b);
  }
  return std::string(a > b ? a : b);
}

}  // namespace callsign::storage
