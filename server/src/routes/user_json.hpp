// JSON shape of a user in API responses.
#pragma once

#include <string>
#include <string_view>

#include "server/http/json_writer.hpp"
#include "storage/authenticator_store.hpp"
#include "storage/user_store.hpp"

namespace callsign::server {

inline std::string_view authenticator_state(const storage::authenticator_record& record) {
  if (record.active_sealed) {
    return record.pending_sealed ? "active_pending_replacement" : "active";
  }
  return record.pending_sealed ? "pending" : "none";
}

inline std::string user_json(const storage::user_record& user, std::string_view authenticator) {
  json_writer json;
  json.begin_object()
      .field("id", user.id)
      .field("email", user.email)
      .field("phone_support", user.phone_support)
      .field("authenticator", authenticator)
      .field("created_at", user.created_at)
      .field("updated_at", user.updated_at)
      .end_object();
  return std::move(json).str();
}

}  // namespace callsign::server
