#include "state_merge_operator.hpp"

#include <algorithm>
#include <string>

#include "storage/block_record.hpp"
#include "storage/shared_state_format.hpp"

namespace callsign::storage {

namespace {
std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// Picks the newer of two encoded states. An undecodable side loses to a decodable one, so a
// damaged record heals on the next change instead of failing every read.
std::string newer_replay_mark(std::string_view stored, std::string_view operand) {
  auto a = decode_replay_mark(stored);
  auto b = decode_replay_mark(operand);
  if (!a) {
    return std::string(operand);
  }
  if (!b) {
    return std::string(stored);
  }
  return encode_replay_mark(std::max(*a, *b));
}

std::string newer_window(std::string_view stored, std::string_view operand) {
  auto a = decode_rate_window(stored);
  auto b = decode_rate_window(operand);
  if (!a) {
    return std::string(operand);
  }
  if (!b) {
    return std::string(stored);
  }
  return encode_rate_window(rate_window::merge(*a, *b));
}

class state_merge_operator final : public rocksdb::AssociativeMergeOperator {
 public:
  explicit state_merge_operator(column_family cf) : cf_(cf) {}

  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    if (existing == nullptr) {
      new_value->assign(value.data(), value.size());
      return true;
    }
    *new_value = merge_state_values(cf_, view(key), view(*existing), view(value));
    return true;
  }

  const char* Name() const override {
    return cf_ == column_family::replay_marks ? "callsign.replay_marks.max" : "callsign.counters.newest";
  }

 private:
  column_family cf_;
};
}  // namespace

std::string merge_state_values(column_family cf, std::string_view key, std::string_view existing,
                               std::string_view operand) {
  if (cf == column_family::replay_marks) {
    return newer_replay_mark(existing, operand);
  }
  if (!key.empty() && key[0] == sliding_window_key_prefix) {
    return newer_window(existing, operand);
  }
  if (!key.empty() && key[0] == block_key_prefix) {
    return newer_block_record(existing, operand);
  }
  return std::string(operand);  // other record kinds: last write wins
}

std::shared_ptr<rocksdb::MergeOperator> state_merge_operator_for(column_family cf) {
  if (cf == column_family::replay_marks || cf == column_family::counters) {
    return std::make_shared<state_merge_operator>(cf);
  }
  return nullptr;
}

}  // namespace callsign::storage
