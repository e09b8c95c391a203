// replay_marks for a single node: an in-memory map is the authority, filled lazily from
// column_family::replay_marks; claims append their RocksDB put to the caller's change_set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "storage/database.hpp"
#include "storage/replay_marks.hpp"

namespace callsign::storage {

// Thread-safety: all member functions may be called concurrently (lock stripes by key).
// Must be the only writer of column_family::replay_marks on its database, and the database
// must outlive it. Memory holds one small entry per (user, method) touched since start.
class embedded_replay_marks final : public replay_marks {
 public:
  explicit embedded_replay_marks(database& db);
  ~embedded_replay_marks() override;
  embedded_replay_marks(const embedded_replay_marks&) = delete;
  embedded_replay_marks& operator=(const embedded_replay_marks&) = delete;

  result<bool> claim(std::string_view user, std::string_view method, std::uint64_t step, change_set& changes) override;
  result<std::optional<std::uint64_t>> last_step(std::string_view user, std::string_view method) override;

  // (user, method) pairs held in memory, including known-absent ones: for metrics and tests.
  std::size_t cached_marks();

  struct state;

 private:
  database& db_;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::storage
