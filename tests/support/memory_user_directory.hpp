// An in-memory storage::user_directory and storage::authenticator_directory for unit tests: the
// smallest backend that keeps the interfaces' contracts (versions, conditional writes, one email
// per user, a deleted user's enrollment dropped with it), answering every call inline. The
// `extra` change sets of successful writes are kept in `committed` for tests to read the audit.
// tests/storage/user_directory_contract_test.cpp runs one suite over this and the embedded
// backend, the suite a Redis/Valkey backend will also have to pass.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/authenticator_directory.hpp"
#include "storage/user_directory.hpp"

namespace callsign::test {

// Thread-safety: one mutex around everything; any thread. Completions run inline, outside it.
class memory_user_directory final : public storage::user_directory, public storage::authenticator_directory {
 public:
  void find(std::string_view id, storage::completion<std::optional<storage::stored_user>> done) override {
    std::optional<storage::stored_user> found;
    {
      std::lock_guard lock(mutex_);
      if (auto it = users_.find(std::string(id)); it != users_.end()) found = it->second;
    }
    done(std::move(found));
  }

  void find_by_email(std::string_view email, storage::completion<std::optional<storage::stored_user>> done) override {
    std::optional<storage::stored_user> found;
    {
      std::lock_guard lock(mutex_);
      if (auto owner = emails_.find(std::string(email)); owner != emails_.end()) found = users_.at(owner->second);
    }
    done(std::move(found));
  }

  void list(std::string_view after, std::size_t limit, storage::completion<storage::user_page> done) override {
    storage::user_page page;
    {
      std::lock_guard lock(mutex_);
      for (auto it = users_.upper_bound(std::string(after)); it != users_.end(); ++it) {
        if (page.users.size() == limit) {
          if (!page.users.empty()) page.next_after = page.users.back().id;
          break;
        }
        page.users.push_back(it->second.record);
      }
    }
    done(std::move(page));
  }

  void put(storage::user_record user, std::uint64_t expected_version, storage::change_set extra,
           storage::completion<std::uint64_t> done) override {
    result<std::uint64_t> outcome = make_error(error_kind::internal, "unset");
    {
      std::lock_guard lock(mutex_);
      auto current = users_.find(user.id);
      const std::uint64_t stored = current == users_.end() ? 0 : current->second.version;
      auto owner = emails_.find(user.email);
      if (stored != expected_version) {
        outcome = make_error(error_kind::conflict, "the user changed since it was read; read it again");
      } else if (owner != emails_.end() && owner->second != user.id) {
        outcome = make_error(error_kind::conflict, "that email belongs to another user");
      } else {
        if (current != users_.end()) emails_.erase(current->second.record.email);
        emails_[user.email] = user.id;
        std::string id = user.id;
        users_[id] = storage::stored_user{std::move(user), stored + 1};
        committed.push_back(std::move(extra));
        outcome = stored + 1;
      }
    }
    done(std::move(outcome));
  }

  void remove(std::string_view id, std::uint64_t expected_version, storage::change_set extra,
              storage::completion<void> done) override {
    result<void> outcome;
    {
      std::lock_guard lock(mutex_);
      auto current = users_.find(std::string(id));
      if (current == users_.end()) {
        outcome = make_error(error_kind::not_found, "no user has that id");
      } else if (current->second.version != expected_version) {
        outcome = make_error(error_kind::conflict, "the user changed since it was read; read it again");
      } else {
        emails_.erase(current->second.record.email);
        users_.erase(current);
        authenticators_.erase(std::string(id));
        committed.push_back(std::move(extra));
      }
    }
    done(std::move(outcome));
  }

  void find(std::string_view user_id, storage::completion<storage::stored_authenticator> done) override {
    storage::stored_authenticator found;
    {
      std::lock_guard lock(mutex_);
      if (auto it = authenticators_.find(std::string(user_id)); it != authenticators_.end()) found = it->second;
    }
    done(std::move(found));
  }

  void put(std::string user_id, storage::authenticator_record record, std::uint64_t expected_version,
           storage::change_set extra, storage::completion<std::uint64_t> done) override {
    result<std::uint64_t> outcome = make_error(error_kind::internal, "unset");
    {
      std::lock_guard lock(mutex_);
      auto current = authenticators_.find(user_id);
      const std::uint64_t stored = current == authenticators_.end() ? 0 : current->second.version;
      if (stored != expected_version) {
        outcome = make_error(error_kind::conflict, "the authenticator changed since it was read; read it again");
      } else if (!record.empty() && users_.count(user_id) == 0) {
        outcome = make_error(error_kind::not_found, "no user has that id");
      } else if (record.empty()) {
        authenticators_.erase(user_id);
        committed.push_back(std::move(extra));
        outcome = std::uint64_t{0};
      } else {
        authenticators_[user_id] = storage::stored_authenticator{std::move(record), stored + 1};
        committed.push_back(std::move(extra));
        outcome = stored + 1;
      }
    }
    done(std::move(outcome));
  }

  std::vector<storage::change_set> committed;  // guarded by the mutex while calls run

 private:
  std::mutex mutex_;
  std::map<std::string, storage::stored_user> users_;
  std::map<std::string, std::string> emails_;
  std::map<std::string, storage::stored_authenticator> authenticators_;
};

}  // namespace callsign::test
