// The embedded (RocksDB) user directory. Writes are conditional on the version, serialized per
// key without a process-wide lock (a second write to an id or email waits for the first, then
// checks its version against what the first left), and durable through the commit sink (the group-commit writer)
// before they answer; no thread waits for a commit. Reads answer inline from a bounded cache or
// RocksDB's memory, and go to the blocking executor only when they would wait for the disk.
// docs/architecture.md ("Users and authenticators") has the design.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/blocking_pool.hpp"
#include "storage/change_set.hpp"
#include "storage/database.hpp"
#include "storage/user_directory.hpp"

namespace callsign::storage {

// `blocking` runs the reads that would wait for the disk (callsignd: a blocking_pool); empty, they
// wait on the calling thread (tools, fuzzers).
// Thread-safety: every call from any thread. Completions run inline, on the blocking executor or
// on the commit sink's thread; they must be quick. `db` and `sink` must outlive the directory,
// and the directory must outlive every call still in flight (stop the sink and the executor
// first).
class embedded_user_directory final : public user_directory {
 public:
  embedded_user_directory(database& db, commit_sink& sink, blocking_executor blocking,
                          std::size_t cache_entries = 65536);
  ~embedded_user_directory() override;
  embedded_user_directory(const embedded_user_directory&) = delete;
  embedded_user_directory& operator=(const embedded_user_directory&) = delete;

  void find(std::string_view id, completion<std::optional<stored_user>> done) override;
  void find_by_email(std::string_view normalized_email, completion<std::optional<stored_user>> done) override;
  void list(std::string_view after, std::size_t limit, completion<user_page> done) override;
  void put(user_record user, std::uint64_t expected_version, change_set extra,
           completion<std::uint64_t> done) override;
  void remove(std::string_view id, std::uint64_t expected_version, change_set extra,
              completion<void> done) override;

  // Fills the cache from the users column family in id order, until it is full or holds every
  // user, so a restarted node answers its first verify of each user from memory too. Runs on the
  // calling thread (callsignd: once, on the blocking pool, at start) and returns how many users
  // it cached. A write that commits during the scan ends it early: the scan's snapshot may be
  // older than that write, and the cache must never hold a record older than the stored one.
  result<std::size_t> warm_cache();

  // Per-key write serialization, shared with embedded_authenticator_directory ("u:" id,
  // "e:" email, "a:" id; storage/src/key_reservations.hpp): runs `then` once every key is held
  // by the caller, inline or when the write holding one releases it.
  void acquire(std::vector<std::string> keys, std::function<void()> then);
  void release(const std::vector<std::string>& keys);

  struct impl;

 private:
  void put_held(user_record user, std::uint64_t expected_version, change_set extra, completion<std::uint64_t> done,
                std::vector<std::string> keys);
  void remove_held(const std::string& id, std::uint64_t expected_version, change_set extra, completion<void> done,
                   std::vector<std::string> keys);

  std::unique_ptr<impl> impl_;
};

}  // namespace callsign::storage
