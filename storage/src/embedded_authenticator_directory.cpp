#include "storage/embedded_authenticator_directory.hpp"

#include <mutex>
#include <string>
#include <unordered_set>

#include "directory_reads.hpp"

namespace callsign::storage {

// The ids that may have a record (see the header). Thread-safety: one mutex; any thread.
class embedded_authenticator_directory::enrolled_ids {
 public:
  // Every key of the family; when the scan fails, `complete` stays false and every find reads.
  explicit enrolled_ids(const database& db) {
    std::unordered_set<std::string> found;
    auto scanned = db.scan(column_family::authenticators, database::scan_direction::forward, {},
                           [&found](std::string_view id, std::string_view) {
                             found.emplace(id);
                             return true;
                           });
    if (scanned) {
      ids_ = std::move(found);
      complete_ = true;
    }
  }

  // False only when `id` certainly has no record.
  bool may_have(std::string_view id) const {
    if (!complete_) return true;
    const std::lock_guard lock(mutex_);
    return ids_.find(std::string(id)) != ids_.end();
  }

  void add(const std::string& id) {
    const std::lock_guard lock(mutex_);
    ids_.insert(id);
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_set<std::string> ids_;  // guarded by mutex_
  bool complete_ = false;                // set once, in the constructor
};

embedded_authenticator_directory::embedded_authenticator_directory(database& db, commit_sink& sink,
                                                                   blocking_executor blocking,
                                                                   embedded_user_directory& users)
    : db_(db),
      sink_(sink),
      blocking_(std::move(blocking)),
      users_(users),
      enrolled_(std::make_unique<enrolled_ids>(db)) {}

embedded_authenticator_directory::~embedded_authenticator_directory() = default;

void embedded_authenticator_directory::find(std::string_view user_id, completion<stored_authenticator> done) {
  if (!enrolled_->may_have(user_id)) {
    done(stored_authenticator{});  // as a read of an absent key answers
    return;
  }
  read_without_waiting(db_, blocking_, column_family::authenticators, std::string(user_id),
                       [done = std::move(done)](result<std::optional<std::string>> bytes) {
                         if (!bytes) {
                           done(bytes.error());
                           return;
                         }
                         stored_authenticator found;
                         if (bytes->has_value()) {
                           auto record = decode_authenticator(**bytes, &found.version);
                           if (!record) {
                             done(record.error());
                             return;
                           }
                           found.record = std::move(record).value();
                         }
                         done(std::move(found));
                       });
}

void embedded_authenticator_directory::put(std::string user_id, authenticator_record record,
                                           std::uint64_t expected_version, change_set extra,
                                           completion<std::uint64_t> done) {
  std::vector<std::string> key{"a:" + user_id};
  // A write while another to this enrollment is in flight waits for it, then checks its version.
  users_.acquire(key, [this, user_id = std::move(user_id), record = std::move(record), expected_version,
                       extra = std::move(extra), done = std::move(done), key]() mutable {
    put_held(std::move(user_id), std::move(record), expected_version, std::move(extra), std::move(done), key);
  });
}

void embedded_authenticator_directory::put_held(std::string user_id, authenticator_record record,
                                                std::uint64_t expected_version, change_set extra,
                                                completion<std::uint64_t> done, std::vector<std::string> key) {
  // Every answer from here on releases the key first, so the caller's next call finds it free.
  auto finish = [this, key](const completion<std::uint64_t>& reply, result<std::uint64_t> outcome) {
    users_.release(key);
    reply(std::move(outcome));
  };
  const bool removal = record.empty();
  auto write = [this, user_id, record = std::move(record), extra = std::move(extra), finish,
                done](std::uint64_t stored_version) mutable {
    const std::uint64_t next = record.empty() ? 0 : stored_version + 1;
    if (!record.empty()) enrolled_->add(user_id);  // before the record can be read back
    change_set changes = std::move(extra);
    authenticator_store(db_).stage_put(user_id, record, changes, next);
    sink_.submit(std::move(changes), [next, finish, done](result<commit_receipt> committed) {
      finish(done, committed ? result<std::uint64_t>(next) : result<std::uint64_t>(committed.error()));
    });
  };
  find(user_id, [this, user_id, expected_version, removal, finish, done, write = std::move(write)](
                    result<stored_authenticator> current) mutable {
    if (!current) {
      return finish(done, current.error());
    }
    if (current->version != expected_version) {
      return finish(done, make_error(error_kind::conflict, "the authenticator changed since it was read; read it again"));
    }
    if (removal) {
      return write(current->version);
    }
    // Held "a:" keeps a user delete out until this write is durable; the user must exist now.
    users_.find(user_id, [finish, done, version = current->version, write = std::move(write)](
                             result<std::optional<stored_user>> user) mutable {
      if (!user) {
        return finish(done, user.error());
      }
      if (!*user) {
        return finish(done, make_error(error_kind::not_found, "no user has that id"));
      }
      write(version);
    });
  });
}

}  // namespace callsign::storage
