// Small asynchronous steps over storage::user_directory and authenticator_directory that several
// route groups share: a user with its authenticator state, the customer check, and gathering
// the authenticator state of a page of users without recursion.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "routes/user_json.hpp"
#include "server/app_context.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/user_directory.hpp"

namespace callsign::server {

// The user's JSON (user_json) once its authenticator state is read.
inline void with_authenticator_json(storage::authenticator_directory& authenticators, storage::user_record user,
                                    std::function<void(result<std::string>)> done) {
  std::string id = user.id;
  authenticators.find(id, [user = std::move(user), done = std::move(done)](result<storage::stored_authenticator> found) {
    if (!found) {
      done(found.error());
      return;
    }
    done(user_json(user, authenticator_state(found->record)));
  });
}

// The same for every user of a page, in order. Each find may answer inline or later on any
// thread; the last one to answer calls done, so no call nests inside another.
inline void page_json(storage::authenticator_directory& authenticators, std::vector<storage::user_record> users,
                      std::function<void(result<std::vector<std::string>>)> done) {
  if (users.empty()) {
    done(std::vector<std::string>{});
    return;
  }
  struct gathering {
    std::vector<std::optional<result<std::string>>> parts;
    std::atomic<std::size_t> left;
    std::function<void(result<std::vector<std::string>>)> done;
  };
  auto state = std::make_shared<gathering>();
  state->parts.resize(users.size());
  state->left = users.size();
  state->done = std::move(done);
  for (std::size_t i = 0; i < users.size(); ++i) {
    with_authenticator_json(authenticators, std::move(users[i]), [state, i](result<std::string> json) {
      state->parts[i] = std::move(json);
      if (state->left.fetch_sub(1) != 1) {
        return;
      }
      std::vector<std::string> out;
      for (auto& part : state->parts) {
        if (!*part) {
          state->done(part->error());
          return;
        }
        out.push_back(std::move(**part));
      }
      state->done(std::move(out));
    });
  }
}

// The caller's user record with its version when it exists and has phone support (not_found /
// forbidden otherwise): the asynchronous eligible_customer.
inline void find_eligible_customer(storage::user_directory& users, const std::string& subject,
                                   std::function<void(result<storage::stored_user>)> done) {
  users.find(subject, [done = std::move(done)](result<std::optional<storage::stored_user>> user) {
    if (!user) {
      done(user.error());
    } else if (!*user) {
      done(make_error(error_kind::not_found, "your account is not registered with callsign"));
    } else if (!(*user)->record.phone_support) {
      done(make_error(error_kind::forbidden, "phone support is not enabled for your account"));
    } else {
      done(std::move(**user));
    }
  });
}

}  // namespace callsign::server
