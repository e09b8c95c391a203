// What the two Redis directories share: the key names of docs/shared-state-redis.md, the
// generic error of an unusable Redis, and one write's path (the function call with its
// pipelined WAIT, then the local journal).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "redis/client.hpp"
#include "shared_state/directory_functions.hpp"
#include "storage/change_set.hpp"
#include "storage/completion.hpp"

namespace callsign::shared_state::directory_detail {

inline std::string user_key(std::string_view id) {
  return "cs:{u:" + std::string(id) + "}:user";
}
inline std::string authenticator_key(std::string_view id) {
  return "cs:{u:" + std::string(id) + "}:auth";
}
inline std::string email_key(std::string_view email) {
  return "cs:email:" + std::string(email);
}
inline constexpr std::string_view users_key = "cs:users";

// Never names a key, id, email or secret: Redis said no, or could not be asked.
error unavailable();
// The version or the email moved on, or the user is missing: the function wrote nothing. The
// messages are the embedded backend's; `record` is "user" or "authenticator".
error refusal(std::string_view status, std::string_view record);

// A version as FCALL's argument and back: decimal text, and an integer or bulk reply.
bool read_version(const redis::reply& reply, std::uint64_t& version);

// The function call of one write: the FCALL, and the reading of its reply ({"ok", version} or
// a refusal status) into the new version.
struct directory_write {
  redis::command fcall;
  storage::change_set extra;
  std::function<void()> on_reply;    // optional: runs first when the exec answers, whatever it says
  std::string_view record = "user";  // for the conflict message
};

// Sends write.fcall (with WAIT when options ask for replicas) in one exec, counted in
// `counter`; on "ok" and enough acknowledgements commits write.extra through `sink` and answers
// the new version once it is durable. A refusal answers its error and commits nothing.
void run_write(redis::client& client, storage::commit_sink& sink, const directory_options& options,
               std::atomic<std::uint64_t>& counter, directory_write write, storage::completion<std::uint64_t> done);

}  // namespace callsign::shared_state::directory_detail
