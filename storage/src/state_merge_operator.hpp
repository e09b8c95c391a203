// RocksDB merge operators for shared state, so concurrent changes that reach the group-commit
// writer in another order than they were made still leave the newest state on disk.
#pragma once

#include <rocksdb/merge_operator.h>

#include <memory>

#include "storage/column_family.hpp"

namespace callsign::storage {

// replay_marks: the highest step wins. counters: the newest sliding-window state wins (later
// window start; within one window the larger counts); blocks: the highest revision wins. Other families: none.
std::shared_ptr<rocksdb::MergeOperator> state_merge_operator_for(column_family cf);

}  // namespace callsign::storage
