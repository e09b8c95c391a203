// blocks for a single node: every block in force sits in memory (loaded from
// column_family::counters at start, so a restart keeps them); changes append a merge of the
// key's new state to the caller's change_set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "storage/blocks.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

// Thread-safety: all member functions may be called concurrently (lock stripes by key).
// Must be the only writer of block records on its database, which must outlive it.
// Memory holds the blocks in force plus lift tombstones until their until passes; expired
// entries are dropped by an amortised per-stripe sweep, or by sweep().
class embedded_blocks final : public blocks {
 public:
  // Loads every block record that is not expired at now_ms.
  static result<std::unique_ptr<embedded_blocks>> open(database& db, std::int64_t now_ms);
  ~embedded_blocks() override;
  embedded_blocks(const embedded_blocks&) = delete;
  embedded_blocks& operator=(const embedded_blocks&) = delete;

  result<block_outcome> block(std::string_view key, std::int64_t until_ms, std::string_view rule, std::int64_t now_ms,
                            change_set& changes) override;
  result<std::optional<block_entry>> find(std::string_view key, std::int64_t now_ms) override;
  result<std::vector<block_entry>> list(std::int64_t now_ms) override;
  result<std::optional<block_entry>> lift(std::string_view key, std::int64_t now_ms, change_set& changes) override;
  // A key memory does not hold: its record on disk (an expired block), read without the
  // stripe's lock, so block() finds it in RocksDB's cache.
  result<void> ready_to_block(std::string_view key, std::int64_t now_ms) override;

  // Drops expired entries from memory; returns how many.
  std::size_t sweep(std::int64_t now_ms);

  struct state;

 private:
  embedded_blocks(database& db, std::unique_ptr<state> s);
  database& db_;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::storage
