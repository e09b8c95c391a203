#include "shared_state/redis_user_directory.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "directory_functions_detail.hpp"
#include "redis_user_directory_cache.hpp"
#include "shared_state/redis_authenticator_directory.hpp"

namespace callsign::shared_state {

namespace {
constexpr std::size_t max_page = 10000;

// A found record: {version, record} (or {id, version, record} by email, `first` = 1).
// `replies` holds the lookup's reply first, then the enrollment read's when one was sent.
result<std::optional<storage::stored_user>> read_user(const result<std::vector<redis::reply>>& replies,
                                                      std::string_view id, std::size_t first, bool with_enrollment) {
  if (!replies || replies->size() != (with_enrollment ? 2U : 1U)) {
    return directory_detail::unavailable();
  }
  const redis::reply& found = (*replies)[0];
  if (found.is_nil()) {
    return std::optional<storage::stored_user>{};
  }
  if (found.type != redis::reply::kind::array || found.elements.size() != first + 2) {
    return directory_detail::unavailable();
  }
  if (first == 1) {
    id = found.elements[0].text;
  }
  std::uint64_t field_version = 0;
  storage::stored_user user;
  auto record = storage::decode_user(id, found.elements[first + 1].text, &user.version);
  if (!record) {
    return record.error();
  }
  if (!directory_detail::read_version(found.elements[first], field_version) || field_version != user.version) {
    return make_error(error_kind::internal, "stored user record is corrupt");
  }
  user.record = std::move(record).value();
  return std::optional<storage::stored_user>(std::move(user));
}

// Appends the enrollment read that `enrollments` asks for (by id, or by email), if any.
bool add_enrollment_read(std::vector<redis::command>& commands, redis_authenticator_directory* enrollments,
                         std::string_view key, bool by_email, std::uint64_t& generation) {
  if (enrollments == nullptr) return false;
  auto read =
      by_email ? enrollments->enrollment_read_by_email(key, generation) : enrollments->enrollment_read(key, generation);
  if (!read) return false;
  commands.push_back(std::move(*read));
  return true;
}
}  // namespace

redis_user_directory::redis_user_directory(redis::client& client, storage::commit_sink& sink,
                                           directory_round_trips& round_trips, directory_options options,
                                           std::size_t cache_entries)
    : client_(client),
      sink_(sink),
      options_(options),
      round_trips_(round_trips),
      cache_(std::make_unique<user_record_cache>(cache_entries)) {}

redis_user_directory::~redis_user_directory() = default;

void redis_user_directory::user_changed(std::string_view id) {
  cache_->drop(id);
}

void redis_user_directory::events_connected(bool connected) {
  cache_->set_events_connected(connected);
}

void redis_user_directory::find(std::string_view id, storage::completion<std::optional<storage::stored_user>> done) {
  if (!storage::valid_user_id(id)) {
    done(std::optional<storage::stored_user>{});  // no such key can exist
    return;
  }
  std::uint64_t generation = 0;
  if (auto hit = cache_->find(id, generation)) {
    round_trips_.user_find_cache_hits.fetch_add(1, std::memory_order_relaxed);
    done(std::move(hit));
    return;
  }
  round_trips_.user_find.fetch_add(1, std::memory_order_relaxed);
  std::vector<redis::command> commands{{"FCALL_RO", "callsign_user_find", "1", directory_detail::user_key(id)}};
  std::uint64_t enrollment_generation = 0;
  const bool with_enrollment = add_enrollment_read(commands, enrollments_, id, false, enrollment_generation);
  client_.exec(std::move(commands), [cache = cache_.get(), generation, id = std::string(id), done = std::move(done),
                                     enrollments = enrollments_, with_enrollment,
                                     enrollment_generation](result<std::vector<redis::reply>> replies) {
    auto user = read_user(replies, id, 0, with_enrollment);
    if (user && *user) {
      cache->keep(**user, generation);
      if (with_enrollment) enrollments->prime(id, (*replies)[1], false, enrollment_generation);
    }
    done(std::move(user));
  });
}

void redis_user_directory::find_by_email(std::string_view normalized_email,
                                         storage::completion<std::optional<storage::stored_user>> done) {
  if (normalized_email.empty()) {
    done(std::optional<storage::stored_user>{});
    return;
  }
  std::uint64_t generation = 0;
  if (auto hit = cache_->find_by_email(normalized_email, generation)) {
    round_trips_.user_find_cache_hits.fetch_add(1, std::memory_order_relaxed);
    done(std::move(hit));
    return;
  }
  round_trips_.user_find_by_email.fetch_add(1, std::memory_order_relaxed);
  std::vector<redis::command> commands{{"FCALL_RO", "callsign_user_find_by_email", "1",
                                        directory_detail::email_key(normalized_email), std::string(normalized_email)}};
  std::uint64_t enrollment_generation = 0;
  const bool with_enrollment =
      add_enrollment_read(commands, enrollments_, normalized_email, true, enrollment_generation);
  client_.exec(std::move(commands),
               [cache = cache_.get(), generation, done = std::move(done), enrollments = enrollments_, with_enrollment,
                enrollment_generation](result<std::vector<redis::reply>> replies) {
                 auto user = read_user(replies, {}, 1, with_enrollment);
                 if (user && *user) {
                   cache->keep(**user, generation);
                   if (with_enrollment)
                     enrollments->prime((*user)->record.id, (*replies)[1], true, enrollment_generation);
                 }
                 done(std::move(user));
               });
}

void redis_user_directory::list(std::string_view after, std::size_t limit,
                                storage::completion<storage::user_page> done) {
  round_trips_.user_list.fetch_add(1, std::memory_order_relaxed);
  client_.exec({{"FCALL_RO", "callsign_user_list", "1", std::string(directory_detail::users_key), std::string(after),
                 std::to_string(std::min(limit, max_page))}},
               [done = std::move(done)](result<std::vector<redis::reply>> replies) {
                 // {more, id, version, record, ...}
                 if (!replies || replies->size() != 1 || (*replies)[0].type != redis::reply::kind::array ||
                     (*replies)[0].elements.empty() || (*replies)[0].elements.size() % 3 != 1) {
                   done(directory_detail::unavailable());
                   return;
                 }
                 const auto& items = (*replies)[0].elements;
                 storage::user_page page;
                 for (std::size_t i = 1; i < items.size(); i += 3) {
                   auto user = storage::decode_user(items[i].text, items[i + 2].text);
                   if (!user) {
                     done(user.error());
                     return;
                   }
                   page.users.push_back(std::move(user).value());
                 }
                 if (items[0].type == redis::reply::kind::integer && items[0].integer == 1 && !page.users.empty()) {
                   page.next_after = page.users.back().id;
                 }
                 done(std::move(page));
               });
}

void redis_user_directory::put(storage::user_record user, std::uint64_t expected_version, storage::change_set extra,
                               storage::completion<std::uint64_t> done) {
  if (!storage::valid_user_id(user.id) || user.email.empty()) {
    done(make_error(error_kind::invalid_input, "a user needs a valid id and an email"));
    return;
  }
  // The new version goes into the record; the function stores it only if expected_version holds.
  directory_detail::directory_write write{
      {"FCALL", "callsign_user_put", "3", directory_detail::user_key(user.id), std::string(directory_detail::users_key),
       directory_detail::email_key(user.email), user.id, std::to_string(expected_version),
       storage::encode_user(user, expected_version + 1), user.email},
      std::move(extra),
      // Whatever the reply says: a broken connection may have written.
      [cache = cache_.get(), id = user.id] { cache->drop(id); },
      "user"};
  directory_detail::run_write(client_, sink_, options_, round_trips_.user_put, std::move(write), std::move(done));
}

void redis_user_directory::remove(std::string_view id, std::uint64_t expected_version, storage::change_set extra,
                                  storage::completion<void> done) {
  if (!storage::valid_user_id(id)) {
    done(make_error(error_kind::not_found, "no user has that id"));
    return;
  }
  directory_detail::directory_write write{
      {"FCALL", "callsign_user_remove", "3", directory_detail::user_key(id), std::string(directory_detail::users_key),
       directory_detail::authenticator_key(id), std::string(id), std::to_string(expected_version)},
      std::move(extra),
      [cache = cache_.get(), id = std::string(id)] { cache->drop(id); },
      "user"};
  directory_detail::run_write(client_, sink_, options_, round_trips_.user_remove, std::move(write),
                              [done = std::move(done)](result<std::uint64_t> removed) {
                                done(removed ? result<void>{} : result<void>(removed.error()));
                              });
}

}  // namespace callsign::shared_state
