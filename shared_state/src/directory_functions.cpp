#include "shared_state/directory_functions.hpp"

#include <algorithm>
#include <charconv>
#include <memory>

#include "directory_functions_detail.hpp"

namespace callsign::shared_state {

// Defined in the file the build generates from lua/directory.lua (directories.cmake).
extern const char directory_library_source[];

std::string_view directory_library() noexcept {
  return directory_library_source;
}

redis::command load_directory_library() {
  return {"FUNCTION", "LOAD", "REPLACE", std::string(directory_library())};
}

std::vector<std::pair<std::string_view, std::uint64_t>> directory_round_trips::snapshot() const {
  auto read = [](const std::atomic<std::uint64_t>& counter) { return counter.load(std::memory_order_relaxed); };
  return {{"user_find", read(user_find)},
          {"user_find_by_email", read(user_find_by_email)},
          {"user_list", read(user_list)},
          {"user_put", read(user_put)},
          {"user_remove", read(user_remove)},
          {"authenticator_find", read(authenticator_find)},
          {"authenticator_put", read(authenticator_put)}};
}

namespace directory_detail {

error unavailable() {
  return make_error(error_kind::unavailable, "shared state unavailable");
}

error refusal(std::string_view status, std::string_view record) {
  if (status == "conflict_version") {
    return make_error(error_kind::conflict, "the " + std::string(record) + " changed since it was read; read it again");
  }
  if (status == "conflict_email") {
    return make_error(error_kind::conflict, "that email belongs to another user");
  }
  if (status == "not_found") {
    return make_error(error_kind::not_found, "no user has that id");
  }
  return unavailable();
}

bool read_version(const redis::reply& reply, std::uint64_t& version) {
  if (reply.type == redis::reply::kind::integer) {
    if (reply.integer < 0) {
      return false;
    }
    version = static_cast<std::uint64_t>(reply.integer);
    return true;
  }
  if (reply.type != redis::reply::kind::string) {
    return false;
  }
  const char* end = reply.text.data() + reply.text.size();
  auto [stop, ec] = std::from_chars(reply.text.data(), end, version);
  return ec == std::errc() && stop == end;
}

namespace {
// {"ok", version} into the version; a refusal into its error.
result<std::uint64_t> read_write_reply(const redis::reply& reply, std::string_view record) {
  if (reply.type != redis::reply::kind::array || reply.elements.empty() ||
      reply.elements[0].type != redis::reply::kind::string) {
    return unavailable();  // an error reply (NOREPLICAS, READONLY, OOM, no function) or a stranger
  }
  if (reply.elements[0].text != "ok") {
    return refusal(reply.elements[0].text, record);
  }
  std::uint64_t version = 0;
  if (reply.elements.size() != 2 || !read_version(reply.elements[1], version)) {
    return unavailable();
  }
  return version;
}
}  // namespace

void run_write(redis::client& client, storage::commit_sink& sink, const directory_options& options,
               std::atomic<std::uint64_t>& counter, directory_write write, storage::completion<std::uint64_t> done) {
  std::vector<redis::command> commands{std::move(write.fcall)};
  const std::int64_t replicas = options.wait_replicas;
  counter.fetch_add(1, std::memory_order_relaxed);
  auto answer = [&sink, replicas, record = write.record, extra = std::move(write.extra),
                 on_reply = std::move(write.on_reply),
                 done = std::move(done)](result<std::vector<redis::reply>> replies) mutable {
    if (on_reply) {
      on_reply();
    }
    if (!replies || replies->size() != (replicas > 0 ? 2U : 1U)) {
      done(unavailable());
      return;
    }
    auto version = read_write_reply((*replies)[0], record);
    if (!version) {
      done(version.error());  // nothing was written, whatever WAIT said
      return;
    }
    if (replicas > 0) {
      const redis::reply& acks = (*replies)[1];
      if (acks.type != redis::reply::kind::integer || acks.integer < replicas) {
        const error not_acknowledged = make_error(error_kind::unavailable, "shared state: not acknowledged by a replica");
        if (extra.empty()) {
          done(not_acknowledged);
          return;
        }
        // The change is made on the primary all the same: it is journaled, saying that no
        // replica confirmed it, before the 503 (docs/shared-state-redis.md).
        for (auto& audit : extra.audit) audit.details.emplace_back("replicas", "unconfirmed");
        sink.submit(std::move(extra), [not_acknowledged, done = std::move(done)](result<storage::commit_receipt>) {
          done(not_acknowledged);
        });
        return;
      }
    }
    if (extra.empty()) {
      done(*version);
      return;
    }
    sink.submit(std::move(extra),
                [version = *version, done = std::move(done)](result<storage::commit_receipt> committed) {
                  done(committed ? result<std::uint64_t>(version) : result<std::uint64_t>(committed.error()));
                });
  };
  if (replicas > 0) {
    // The WAIT's reply comes last; concurrent writes share one WAIT (redis/client.hpp).
    client.exec_acknowledged(std::move(commands), {replicas, std::max<std::int64_t>(options.wait_timeout_ms, 1)},
                             std::move(answer));
  } else {
    client.exec(std::move(commands), std::move(answer));
  }
}

}  // namespace directory_detail
}  // namespace callsign::shared_state
