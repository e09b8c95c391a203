#include "shared_state/redis_authenticator_directory.hpp"

#include <optional>
#include <string>
#include <utility>

#include "directory_functions_detail.hpp"
#include "redis_authenticator_cache.hpp"
#include "storage/user_store.hpp"

namespace callsign::shared_state {

redis_authenticator_directory::redis_authenticator_directory(redis::client& client, storage::commit_sink& sink,
                                                             directory_round_trips& round_trips,
                                                             directory_options options, std::size_t cache_entries)
    : client_(client),
      sink_(sink),
      options_(options),
      round_trips_(round_trips),
      cache_(std::make_unique<authenticator_record_cache>(cache_entries)) {}

redis_authenticator_directory::~redis_authenticator_directory() = default;

void redis_authenticator_directory::authenticator_changed(std::string_view user_id) {
  cache_->drop(user_id);
}

void redis_authenticator_directory::events_connected(bool connected) {
  cache_->set_events_connected(connected);
}

namespace {

// An enrollment read: nil or {version, record} (callsign_authenticator_find), or {id} or
// {id, version, record} (callsign_authenticator_find_by_email, `first` = 1).
result<storage::stored_authenticator> read_enrollment(const redis::reply& found, std::size_t first) {
  storage::stored_authenticator stored;
  if (found.is_nil() || (first == 1 && found.type == redis::reply::kind::array && found.elements.size() == 1)) {
    return stored;
  }
  if (found.type != redis::reply::kind::array || found.elements.size() != first + 2) {
    return directory_detail::unavailable();
  }
  auto record = storage::decode_authenticator(found.elements[first + 1].text, &stored.version);
  if (!record) {
    return record.error();
  }
  std::uint64_t field_version = 0;
  if (!directory_detail::read_version(found.elements[first], field_version) || field_version != stored.version) {
    return make_error(error_kind::internal, "stored authenticator record is corrupt");
  }
  stored.record = std::move(record).value();
  return stored;
}

}  // namespace

void redis_authenticator_directory::find(std::string_view user_id,
                                         storage::completion<storage::stored_authenticator> done) {
  if (!storage::valid_user_id(user_id)) {
    done(storage::stored_authenticator{});  // no such key can exist
    return;
  }
  std::uint64_t generation = 0;
  if (auto hit = cache_->find(user_id, generation)) {
    round_trips_.authenticator_find_cache_hits.fetch_add(1, std::memory_order_relaxed);
    done(std::move(*hit));
    return;
  }
  round_trips_.authenticator_find.fetch_add(1, std::memory_order_relaxed);
  client_.exec({{"FCALL_RO", "callsign_authenticator_find", "1", directory_detail::authenticator_key(user_id)}},
               [cache = cache_.get(), generation, id = std::string(user_id),
                done = std::move(done)](result<std::vector<redis::reply>> replies) {
                 if (!replies || replies->size() != 1) {
                   done(directory_detail::unavailable());
                   return;
                 }
                 auto stored = read_enrollment((*replies)[0], 0);
                 if (stored) {
                   cache->keep(id, *stored, generation);  // "none" too: the common case
                 }
                 done(std::move(stored));
               });
}

std::optional<redis::command> redis_authenticator_directory::enrollment_read(std::string_view user_id,
                                                                             std::uint64_t& generation) {
  if (!storage::valid_user_id(user_id) || !cache_->wants(user_id, generation)) {
    return std::nullopt;
  }
  return redis::command{"FCALL_RO", "callsign_authenticator_find", "1", directory_detail::authenticator_key(user_id)};
}

std::optional<redis::command> redis_authenticator_directory::enrollment_read_by_email(std::string_view normalized_email,
                                                                                      std::uint64_t& generation) {
  if (normalized_email.empty() || !cache_->wants({}, generation)) {
    return std::nullopt;
  }
  return redis::command{"FCALL_RO", "callsign_authenticator_find_by_email", "1",
                        directory_detail::email_key(normalized_email)};
}

void redis_authenticator_directory::prime(std::string_view user_id, const redis::reply& reply, bool by_email,
                                          std::uint64_t generation) {
  const std::size_t first = by_email ? 1 : 0;
  if (by_email &&
      (reply.type != redis::reply::kind::array || reply.elements.empty() || reply.elements[0].text != user_id)) {
    return;  // the email named someone else by then (or nobody): nothing learned about user_id
  }
  if (auto stored = read_enrollment(reply, first)) {
    cache_->keep(std::string(user_id), *stored, generation);
  }
}

void redis_authenticator_directory::put(std::string user_id, storage::authenticator_record record,
                                        std::uint64_t expected_version, storage::change_set extra,
                                        storage::completion<std::uint64_t> done) {
  if (!storage::valid_user_id(user_id)) {
    done(make_error(error_kind::invalid_input, "a user needs a valid id"));
    return;
  }
  // Sealed bytes only; an empty argument asks the function to remove the enrollment.
  std::string bytes = record.empty() ? std::string() : storage::encode_authenticator(record, expected_version + 1);
  directory_detail::directory_write write{
      {"FCALL", "callsign_authenticator_put", "2", directory_detail::authenticator_key(user_id),
       directory_detail::user_key(user_id), user_id, std::to_string(expected_version), std::move(bytes)},
      std::move(extra),
      // Whatever the reply says: a broken connection may have written.
      [cache = cache_.get(), id = user_id] { cache->drop(id); },
      "authenticator"};
  directory_detail::run_write(client_, sink_, options_, round_trips_.authenticator_put, std::move(write),
                              std::move(done));
}

}  // namespace callsign::shared_state
