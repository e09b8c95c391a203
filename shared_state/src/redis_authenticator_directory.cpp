#include "shared_state/redis_authenticator_directory.hpp"

#include <string>
#include <utility>

#include "directory_functions_detail.hpp"
#include "storage/user_store.hpp"

namespace callsign::shared_state {

redis_authenticator_directory::redis_authenticator_directory(redis::client& client, storage::commit_sink& sink,
                                                             directory_round_trips& round_trips,
                                                             directory_options options)
    : client_(client), sink_(sink), options_(options), round_trips_(round_trips) {}

void redis_authenticator_directory::find(std::string_view user_id,
                                         storage::completion<storage::stored_authenticator> done) {
  if (!storage::valid_user_id(user_id)) {
    done(storage::stored_authenticator{});  // no such key can exist
    return;
  }
  round_trips_.authenticator_find.fetch_add(1, std::memory_order_relaxed);
  client_.exec(
      {{"FCALL_RO", "callsign_authenticator_find", "1", directory_detail::authenticator_key(user_id)}},
      [done = std::move(done)](result<std::vector<redis::reply>> replies) {
        if (!replies || replies->size() != 1) {
          done(directory_detail::unavailable());
          return;
        }
        const redis::reply& found = (*replies)[0];
        storage::stored_authenticator stored;
        if (found.is_nil()) {
          done(std::move(stored));
          return;
        }
        std::uint64_t field_version = 0;
        if (found.type != redis::reply::kind::array || found.elements.size() != 2) {
          done(directory_detail::unavailable());
          return;
        }
        auto record = storage::decode_authenticator(found.elements[1].text, &stored.version);
        if (!record) {
          done(record.error());
          return;
        }
        if (!directory_detail::read_version(found.elements[0], field_version) || field_version != stored.version) {
          done(make_error(error_kind::internal, "stored authenticator record is corrupt"));
          return;
        }
        stored.record = std::move(record).value();
        done(std::move(stored));
      });
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
      {},
      "authenticator"};
  directory_detail::run_write(client_, sink_, options_, round_trips_.authenticator_put, std::move(write),
                              std::move(done));
}

}  // namespace callsign::shared_state
