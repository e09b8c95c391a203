// The admin's view of blocks (list, lift, find), asynchronous so a networked backend (Redis,
// issue 18: shared_state/redis_blocks.hpp) can answer from its connection's thread; the
// embedded adapter answers inline over storage::blocks. The login path itself changes blocks
// through login_attempts, one operation per outcome.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "storage/blocks.hpp"
#include "storage/change_set.hpp"
#include "storage/completion.hpp"

namespace callsign::storage {

// Thread-safety: any thread, concurrently. Each completion is called exactly once, inline or on
// the backend's thread; the caller keeps `key` and `changes` alive until then.
class block_directory {
 public:
  virtual ~block_directory() = default;

  // Every active block at now_ms, ordered by key.
  virtual void list(std::int64_t now_ms, completion<std::vector<block_entry>> done) = 0;

  // Ends the active block on `key` and answers it, or nullopt when none. What must be persisted
  // goes to `changes` (nothing for a backend that is its own authority).
  virtual void lift(std::string_view key, std::int64_t now_ms, change_set& changes,
                    completion<std::optional<block_entry>> done) = 0;

  // The active block on `key` at now_ms, if any.
  virtual void find(std::string_view key, std::int64_t now_ms, completion<std::optional<block_entry>> done) = 0;

 protected:
  block_directory() = default;
  block_directory(const block_directory&) = default;
  block_directory& operator=(const block_directory&) = default;
};

// Over the embedded blocks store (which must outlive it); answers inline.
class embedded_block_directory final : public block_directory {
 public:
  explicit embedded_block_directory(blocks& store) : store_(store) {}

  void list(std::int64_t now_ms, completion<std::vector<block_entry>> done) override { done(store_.list(now_ms)); }
  void lift(std::string_view key, std::int64_t now_ms, change_set& changes,
            completion<std::optional<block_entry>> done) override {
    done(store_.lift(key, now_ms, changes));
  }
  void find(std::string_view key, std::int64_t now_ms, completion<std::optional<block_entry>> done) override {
    done(store_.find(key, now_ms));
  }

 private:
  blocks& store_;
};

}  // namespace callsign::storage
