// A RocksDB compaction filter for column_family::counters that drops what can no longer
// matter: sliding-window records that have expired and block records past their until.
#pragma once

#include <rocksdb/compaction_filter.h>

#include <memory>

#include "storage/clock.hpp"

namespace callsign::storage {

// RocksDB calls the filter from its own compaction threads, concurrently; it only reads
// `time_source`, which must be thread-safe (every storage::clock is) and outlive the database.
// Records that do not decode are kept: a damaged record is for an operator to see.
std::unique_ptr<rocksdb::CompactionFilter> make_counters_compaction_filter(const clock& time_source);

}  // namespace callsign::storage
