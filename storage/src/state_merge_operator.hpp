// RocksDB merge operators for shared state, so concurrent changes that reach the group-commit
// writer in another order than they were made still leave the newest state on disk.
#pragma once

#include <rocksdb/merge_operator.h>

#include <memory>
#include <string>
#include <string_view>

#include "storage/column_family.hpp"

namespace callsign::storage {

// replay_marks: the highest step wins. counters: sliding-window states combine by
// rate_window::merge (exact logs by union, estimates by later window start or, within one
// window, the larger counts); blocks: the highest revision wins. Other families: none.
std::shared_ptr<rocksdb::MergeOperator> state_merge_operator_for(column_family cf);

// The operator's rule on its own: the value that results from merging `operand` into
// `existing` in `cf` (replay_marks or counters). Used to fold many merges of one key into one.
std::string merge_state_values(column_family cf, std::string_view key, std::string_view existing,
                               std::string_view operand);

}  // namespace callsign::storage
