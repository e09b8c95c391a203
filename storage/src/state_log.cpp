#include "storage/state_log.hpp"

#include <algorithm>
#include <optional>

#include "big_endian.hpp"
#include "state_merge_operator.hpp"
#include "storage/database.hpp"

namespace callsign::storage {
namespace {

constexpr std::size_t length_bytes = 4;

// Reads a 4-byte length and that many bytes from the front of `in`; nullopt when short.
std::optional<std::string_view> take_field(std::string_view& in) {
  if (in.size() < length_bytes) return std::nullopt;
  const std::size_t size = read_be32(in);
  in.remove_prefix(length_bytes);
  if (in.size() < size) return std::nullopt;
  auto field = in.substr(0, size);
  in.remove_prefix(size);
  return field;
}

error damaged_record(const char* what) {
  return make_error(error_kind::internal, std::string("a state log record is damaged: ") + what);
}

}  // namespace

bool is_logged_state_family(column_family cf) noexcept {
  return cf == column_family::replay_marks || cf == column_family::counters;
}

std::string state_log_key(std::uint64_t number) {
  std::string key;
  append_be64(key, number);
  return key;
}

std::optional<std::uint64_t> parse_state_log_key(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return read_be64(key);
}

std::string encode_state_log_record(std::span<const write_op> ops) {
  std::string out;
  std::size_t size = 0;
  for (const write_op& op : ops) size += 2 + 2 * length_bytes + op.key.size() + op.value.size();
  out.reserve(size);
  for (const write_op& op : ops) {
    out.push_back(static_cast<char>(op.family));
    out.push_back(static_cast<char>(op.op));
    append_be32(out, static_cast<std::uint32_t>(op.key.size()));
    out.append(op.key);
    append_be32(out, static_cast<std::uint32_t>(op.value.size()));
    out.append(op.value);
  }
  return out;
}

result<std::vector<write_op>> decode_state_log_record(std::string_view bytes) {
  std::vector<write_op> ops;
  while (!bytes.empty()) {
    if (bytes.size() < 2) return damaged_record("truncated op");
    const auto family = static_cast<std::uint8_t>(bytes[0]);
    const auto kind = static_cast<std::uint8_t>(bytes[1]);
    bytes.remove_prefix(2);
    if (family >= column_family_count || !is_logged_state_family(static_cast<column_family>(family))) {
      return damaged_record("unexpected column family");
    }
    if (kind > static_cast<std::uint8_t>(write_op::kind::merge)) return damaged_record("unknown op kind");
    auto key = take_field(bytes);
    if (!key) return damaged_record("truncated key");
    auto value = take_field(bytes);
    if (!value) return damaged_record("truncated value");
    ops.push_back({static_cast<write_op::kind>(kind), static_cast<column_family>(family), std::string(*key),
                   std::string(*value)});
  }
  return ops;
}

void state_fold::add(const write_op& op) {
  auto [it, inserted] = pending_.try_emplace({op.family, op.key}, op);
  if (inserted) return;
  write_op& held = it->second;
  if (op.op != write_op::kind::merge) {
    held.op = op.op;
    held.value = op.op == write_op::kind::put ? op.value : std::string();
    return;
  }
  switch (held.op) {
    case write_op::kind::remove:  // nothing stored any more: the merge operand becomes the value
      held.op = write_op::kind::put;
      held.value = op.value;
      break;
    case write_op::kind::put:
    case write_op::kind::merge:
      held.value = merge_state_values(op.family, op.key, held.value, op.value);
      break;
    case write_op::kind::remove_range:  // never logged: only audit retention removes ranges
      break;
  }
}

std::vector<write_op> state_fold::take() {
  std::vector<write_op> out;
  out.reserve(pending_.size());
  for (auto& [where, op] : pending_) out.push_back(std::move(op));  // map order: (family, key)
  pending_.clear();
  return out;
}

result<std::size_t> replay_state_log(database& db) {
  state_fold fold;
  std::vector<std::string> logged;
  std::optional<error> failure;
  auto scanned = db.scan(column_family::state_log, database::scan_direction::forward, {},
                         [&](std::string_view key, std::string_view value) {
                           auto ops = decode_state_log_record(value);
                           if (!ops) {
                             failure = ops.error();
                             return false;
                           }
                           for (const write_op& op : *ops) fold.add(op);
                           logged.emplace_back(key);
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  if (logged.empty()) return std::size_t{0};
  auto ops = fold.take();
  for (auto& key : logged) ops.push_back({write_op::kind::remove, column_family::state_log, std::move(key), {}});
  if (auto written = db.write(ops); !written) return written.error();
  return logged.size();
}

}  // namespace callsign::storage
