#include "state_compaction_filter.hpp"

#include <chrono>
#include <string>
#include <string_view>

#include "storage/block_record.hpp"
#include "storage/shared_state_format.hpp"

namespace callsign::storage {

namespace {

bool expired_record(std::string_view key, std::string_view value, std::int64_t now_ms) {
  if (key.empty()) return false;
  if (key[0] == sliding_window_key_prefix) {
    auto counter = decode_rate_window(value);
    return counter && counter->expired(now_ms);
  }
  if (key[0] == block_key_prefix) {
    auto record = decode_block_record(value);
    return record && record->expired(now_ms);
  }
  return false;
}

class counters_compaction_filter final : public rocksdb::CompactionFilter {
 public:
  explicit counters_compaction_filter(const clock& time_source) : clock_(time_source) {}

  // Merge operands are judged like values: an expired operand only ever loses to or equals
  // a newer state (the merge operator keeps the newest), so dropping it changes nothing.
  Decision FilterV2(int /*level*/, const rocksdb::Slice& key, ValueType value_type, const rocksdb::Slice& existing,
                    std::string* /*new_value*/, std::string* /*skip_until*/) const override {
    if (value_type != ValueType::kValue && value_type != ValueType::kMergeOperand) {
      return Decision::kKeep;
    }
    const auto now_ms = clock_.unix_ms();
    return expired_record({key.data(), key.size()}, {existing.data(), existing.size()}, now_ms) ? Decision::kRemove
                                                                                                : Decision::kKeep;
  }

  const char* Name() const override { return "callsign.counters.expired"; }

 private:
  const clock& clock_;
};

}  // namespace

std::unique_ptr<rocksdb::CompactionFilter> make_counters_compaction_filter(const clock& time_source) {
  return std::make_unique<counters_compaction_filter>(time_source);
}

}  // namespace callsign::storage
