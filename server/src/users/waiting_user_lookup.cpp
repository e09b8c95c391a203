#include "server/users/waiting_user_lookup.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>

namespace callsign::server {

std::vector<result<std::optional<storage::stored_user>>> find_users_waiting(storage::user_directory& directory,
                                                                           const std::vector<std::string>& ids) {
  using answer = result<std::optional<storage::stored_user>>;
  struct pending {
    std::mutex mutex;
    std::condition_variable done;
    std::vector<std::optional<answer>> answers;
    std::size_t left = 0;
  };
  // Shared: a completion may still be returning after the last answer woke the caller.
  auto state = std::make_shared<pending>();
  state->answers.resize(ids.size());
  state->left = ids.size();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    directory.find(ids[i], [state, i](answer found) {
      std::lock_guard lock(state->mutex);
      state->answers[i].emplace(std::move(found));
      if (--state->left == 0) {
        state->done.notify_all();
      }
    });
  }
  std::unique_lock lock(state->mutex);
  state->done.wait(lock, [&] { return state->left == 0; });
  std::vector<answer> out;
  out.reserve(ids.size());
  for (auto& a : state->answers) {
    out.push_back(std::move(*a));
  }
  return out;
}

}  // namespace callsign::server
