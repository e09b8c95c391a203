#include "storage/embedded_user_directory.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "directory_reads.hpp"
#include "key_reservations.hpp"

namespace callsign::storage {

namespace {
std::string user_key(std::string_view id) { return "u:" + std::string(id); }
std::string email_key(std::string_view email) { return "e:" + std::string(email); }
std::string authenticator_key(std::string_view id) { return "a:" + std::string(id); }

error busy() { return make_error(error_kind::conflict, "the user's email is being changed by another request; read it again"); }
error moved_on() { return make_error(error_kind::conflict, "the user changed since it was read; read it again"); }
}  // namespace

struct embedded_user_directory::impl {
  database& db;
  commit_sink& sink;
  blocking_executor blocking;
  std::size_t cache_entries;

  key_reservations keys;

  std::mutex mutex;  // guards everything below; never held across a read or a callback
  // The cache: only what this process read or committed. `generation` moves on with every
  // committed write, so a read that raced a write never caches what it read.
  std::unordered_map<std::string, stored_user> by_id;
  std::unordered_map<std::string, std::string> id_by_email;
  std::uint64_t generation = 0;

  impl(database& d, commit_sink& s, blocking_executor b, std::size_t entries)
      : db(d), sink(s), blocking(std::move(b)), cache_entries(entries) {}

  void remember(const stored_user& user, std::uint64_t read_generation) {
    std::lock_guard lock(mutex);
    if (generation == read_generation) {
      cache(user);
    }
  }

  // Under `mutex`.
  void cache(const stored_user& user) {
    if (cache_entries == 0) {
      return;
    }
    if (by_id.size() >= cache_entries && by_id.find(user.record.id) == by_id.end()) {
      auto victim = by_id.begin();  // any entry: the cache is a shortcut, not an LRU
      id_by_email.erase(victim->second.record.email);
      by_id.erase(victim);
    }
    by_id[user.record.id] = user;
    id_by_email[user.record.email] = user.record.id;
  }

  // Under `mutex`.
  void forget(const std::string& id, const std::string& email) {
    by_id.erase(id);
    if (auto it = id_by_email.find(email); it != id_by_email.end() && it->second == id) {
      id_by_email.erase(it);
    }
  }

  void release(const std::vector<std::string>& held) { keys.release(held); }

  // The stored user: the cache, else RocksDB (without waiting for the disk on this thread).
  void load(std::string id, completion<std::optional<stored_user>> done) {
    std::uint64_t read_generation = 0;
    std::optional<stored_user> hit;
    {
      std::lock_guard lock(mutex);
      if (auto it = by_id.find(id); it != by_id.end()) {
        hit = it->second;
      }
      read_generation = generation;
    }
    if (hit) {
      done(std::move(hit));
      return;
    }
    read_without_waiting(db, blocking, column_family::users, id,
                         [this, id, read_generation, done = std::move(done)](result<std::optional<std::string>> bytes) {
                           if (!bytes) {
                             done(bytes.error());
                             return;
                           }
                           if (!bytes->has_value()) {
                             done(std::optional<stored_user>{});
                             return;
                           }
                           stored_user user;
                           auto decoded = decode_user(id, **bytes, &user.version);
                           if (!decoded) {
                             done(decoded.error());
                             return;
                           }
                           user.record = std::move(decoded).value();
                           remember(user, read_generation);
                           done(std::optional<stored_user>(std::move(user)));
                         });
  }

  // Under `mutex`: caches `batch` unless a write committed since `scan_generation`. False once
  // the scan must stop (stale or full).
  bool cache_scanned(std::vector<stored_user>& batch, std::uint64_t scan_generation, std::size_t& cached) {
    std::lock_guard lock(mutex);
    if (generation != scan_generation) {
      return false;
    }
    for (auto& user : batch) {
      if (by_id.size() >= cache_entries) {
        return false;
      }
      if (by_id.find(user.record.id) == by_id.end()) {
        cache(user);
        ++cached;
      }
    }
    batch.clear();
    return true;
  }

  result<std::size_t> warm() {
    if (cache_entries == 0) {
      return std::size_t{0};
    }
    std::uint64_t scan_generation = 0;
    {
      std::lock_guard lock(mutex);
      scan_generation = generation;  // read before the scan's snapshot is taken
    }
    constexpr std::size_t batch_size = 1024;
    std::vector<stored_user> batch;
    std::size_t cached = 0;
    bool going = true;
    std::optional<error> failed;
    auto scanned = db.scan(column_family::users, database::scan_direction::forward, "",
                           [&](std::string_view key, std::string_view value) {
                             stored_user user;
                             auto decoded = decode_user(key, value, &user.version);
                             if (!decoded) {
                               failed = decoded.error();
                               return false;
                             }
                             user.record = std::move(decoded).value();
                             batch.push_back(std::move(user));
                             if (batch.size() == batch_size) {
                               going = cache_scanned(batch, scan_generation, cached);
                             }
                             return going;
                           });
    if (!scanned) {
      return scanned.error();
    }
    if (failed) {
      return *failed;
    }
    if (going) {
      cache_scanned(batch, scan_generation, cached);
    }
    return cached;
  }

  void commit(std::vector<std::string> held, change_set changes, std::function<void()> on_durable,
              std::function<void(result<void>)> done) {
    sink.submit(std::move(changes), [this, keys = std::move(held), on_durable = std::move(on_durable),
                                     done = std::move(done)](result<commit_receipt> committed) {
      if (committed) {
        std::lock_guard lock(mutex);
        ++generation;
        on_durable();
      }
      // Freed before the answer: the writes that waited for these keys read the new record.
      release(keys);
      done(committed ? result<void>{} : result<void>(committed.error()));
    });
  }
};

embedded_user_directory::embedded_user_directory(database& db, commit_sink& sink, blocking_executor blocking,
                                                 std::size_t cache_entries)
    : impl_(std::make_unique<impl>(db, sink, std::move(blocking), cache_entries)) {}

embedded_user_directory::~embedded_user_directory() = default;

result<std::size_t> embedded_user_directory::warm_cache() { return impl_->warm(); }

void embedded_user_directory::acquire(std::vector<std::string> keys, std::function<void()> then) {
  impl_->keys.acquire(std::move(keys), std::move(then));
}

void embedded_user_directory::release(const std::vector<std::string>& keys) { impl_->release(keys); }

void embedded_user_directory::find(std::string_view id, completion<std::optional<stored_user>> done) {
  impl_->load(std::string(id), std::move(done));
}

void embedded_user_directory::find_by_email(std::string_view normalized_email,
                                            completion<std::optional<stored_user>> done) {
  std::string email(normalized_email);
  std::optional<std::string> cached_id;
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->id_by_email.find(email); it != impl_->id_by_email.end()) {
      cached_id = it->second;
    }
  }
  // The record decides: an index entry (cached or stored) that no longer matches its user's
  // email is a change in flight between two reads, and the answer is "nobody".
  auto check = [email, done](result<std::optional<stored_user>> user) mutable {
    if (user && *user && (*user)->record.email != email) {
      done(std::optional<stored_user>{});
      return;
    }
    done(std::move(user));
  };
  if (cached_id) {
    impl_->load(std::move(*cached_id), std::move(check));
    return;
  }
  read_without_waiting(impl_->db, impl_->blocking, column_family::user_emails, email,
                       [this, check = std::move(check)](result<std::optional<std::string>> id) mutable {
                         if (!id) {
                           check(id.error());
                           return;
                         }
                         if (!id->has_value()) {
                           check(std::optional<stored_user>{});
                           return;
                         }
                         impl_->load(std::move(**id), std::move(check));
                       });
}

void embedded_user_directory::list(std::string_view after, std::size_t limit, completion<user_page> done) {
  run_blocking(impl_->blocking, [this, after = std::string(after), limit, done = std::move(done)] {
    blocking_reads_allowed may_wait;
    done(user_store(impl_->db).list(after, limit));
  });
}

void embedded_user_directory::put(user_record user, std::uint64_t expected_version, change_set extra,
                                  completion<std::uint64_t> done) {
  if (!valid_user_id(user.id) || user.email.empty()) {
    done(make_error(error_kind::invalid_input, "a user needs a valid id and an email"));
    return;
  }
  std::vector<std::string> keys{user_key(user.id), email_key(user.email)};
  // A write to a held id or email waits for it, then reads the record that write left.
  impl_->keys.acquire(keys, [this, user = std::move(user), expected_version, extra = std::move(extra),
                             done = std::move(done), keys]() mutable {
    put_held(std::move(user), expected_version, std::move(extra), std::move(done), std::move(keys));
  });
}

void embedded_user_directory::put_held(user_record user, std::uint64_t expected_version, change_set extra,
                                       completion<std::uint64_t> done, std::vector<std::string> keys) {
  std::string id = user.id;
  impl_->load(id, [this, user = std::move(user), expected_version, extra = std::move(extra), done = std::move(done),
                   keys](result<std::optional<stored_user>> current) mutable {
    auto fail = [&](error why) {
      impl_->release(keys);
      done(std::move(why));
    };
    if (!current) {
      return fail(current.error());
    }
    const std::uint64_t stored_version = *current ? (*current)->version : 0;
    if (stored_version != expected_version) {
      return fail(moved_on());
    }
    std::optional<std::string> old_email;
    if (*current && (*current)->record.email != user.email) {
      old_email = (*current)->record.email;
      // Not waited for: this write holds keys already (two users swapping emails would deadlock).
      if (!impl_->keys.try_acquire({email_key(*old_email)})) {
        return fail(busy());
      }
      keys.push_back(email_key(*old_email));
    }
    // The new email's owner, read while this write holds the email: nobody else can take it now.
    std::string email = user.email;
    read_without_waiting(
        impl_->db, impl_->blocking, column_family::user_emails, email,
        [this, user = std::move(user), stored_version, old_email, extra = std::move(extra), done = std::move(done),
         keys](result<std::optional<std::string>> owner) mutable {
          if (!owner || (owner->has_value() && **owner != user.id)) {
            impl_->release(keys);
            done(owner ? make_error(error_kind::conflict, "that email belongs to another user") : owner.error());
            return;
          }
          stored_user next{std::move(user), stored_version + 1};
          change_set changes = std::move(extra);
          if (old_email) {
            changes.remove(column_family::user_emails, *old_email);
          }
          changes.put(column_family::user_emails, next.record.email, next.record.id);
          changes.put(column_family::users, next.record.id, encode_user(next.record, next.version));
          auto on_durable = [this, next, old_email] {
            if (old_email) {
              impl_->forget(next.record.id, *old_email);
            }
            impl_->cache(next);
          };
          impl_->commit(std::move(keys), std::move(changes), std::move(on_durable),
                        [version = next.version, done = std::move(done)](result<void> committed) {
                          done(committed ? result<std::uint64_t>(version) : result<std::uint64_t>(committed.error()));
                        });
        });
  });
}

void embedded_user_directory::remove(std::string_view id_view, std::uint64_t expected_version, change_set extra,
                                     completion<void> done) {
  std::string id(id_view);
  // The enrollment goes with the user: held too, so an enrollment cannot land after the delete.
  std::vector<std::string> keys{user_key(id), authenticator_key(id)};
  impl_->keys.acquire(keys, [this, id, expected_version, extra = std::move(extra), done = std::move(done),
                             keys]() mutable { remove_held(id, expected_version, std::move(extra), std::move(done), keys); });
}

void embedded_user_directory::remove_held(const std::string& id, std::uint64_t expected_version, change_set extra,
                                          completion<void> done, std::vector<std::string> keys) {
  impl_->load(id, [this, id, expected_version, extra = std::move(extra), done = std::move(done),
                   keys](result<std::optional<stored_user>> current) mutable {
    auto fail = [&](error why) {
      impl_->release(keys);
      done(std::move(why));
    };
    if (!current) {
      return fail(current.error());
    }
    if (!*current) {
      return fail(make_error(error_kind::not_found, "no user has that id"));
    }
    if ((*current)->version != expected_version) {
      return fail(moved_on());
    }
    std::string email = (*current)->record.email;
    if (!impl_->keys.try_acquire({email_key(email)})) {
      return fail(busy());
    }
    keys.push_back(email_key(email));
    read_without_waiting(impl_->db, impl_->blocking, column_family::user_emails, email,
                         [this, id, email, extra = std::move(extra), done = std::move(done),
                          keys](result<std::optional<std::string>> owner) mutable {
                           if (!owner) {
                             impl_->release(keys);
                             done(owner.error());
                             return;
                           }
                           change_set changes = std::move(extra);
                           if (owner->has_value() && **owner == id) {
                             changes.remove(column_family::user_emails, email);
                           }
                           changes.remove(column_family::users, id);
                           changes.remove(column_family::authenticators, id);
                           impl_->commit(std::move(keys), std::move(changes),
                                         [this, id, email] { impl_->forget(id, email); }, std::move(done));
                         });
  });
}

}  // namespace callsign::storage
