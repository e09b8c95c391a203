// Small pieces every route group uses: who is calling, JSON replies, audit drafts, commits.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "server/app_context.hpp"
#include "server/auth/authenticate.hpp"
#include "server/auth/role.hpp"
#include "server/http/http_types.hpp"
#include "storage/audit_entry.hpp"
#include "storage/change_set.hpp"
#include "storage/user_directory.hpp"
#include "storage/user_store.hpp"

namespace callsign::server {

inline std::int64_t now_ms(const app_context& app) {
  return app.clock.unix_ms();
}

// Authenticates the request and requires one of `allowed` (401 / 403 as error values).
result<principal> caller(const app_context& app, const http_request& request, std::initializer_list<role> allowed);

http_response json_response(unsigned status, std::string body);

// An audit draft with the request's actor, source and id filled in.
storage::audit_draft audit_for(const app_context& app, const principal& who, const http_request& request,
                               std::string action, std::string subject);

// The caller's user record when it exists and has phone support (404 / 403 otherwise), read
// waiting for the user directory (worker pool: the stream's token table); routes use
// find_eligible_customer.
result<storage::user_record> eligible_customer(const app_context& app, const principal& who);
// The same decision over an answer of the user directory.
result<storage::user_record> customer_eligibility(result<std::optional<storage::stored_user>> user);

// {"token","step","expires_at","period"} for the user's current phone token.
std::string phone_token_json(const app_context& app, std::string_view user_id);
// The same at unix time `now` (the stream's step-boundary timer computes each token once).
std::string phone_token_json(const app_context& app, std::string_view user_id, std::int64_t now);

// {"entries":[...], "<cursor_name>": seq|null}
std::string audit_page_json(const std::vector<storage::audit_entry>& entries, std::string_view cursor_name,
                            std::optional<std::uint64_t> cursor);
// Shared mode's `cursor` query parameter (a stream id, valid_audit_cursor), when given.
result<std::optional<std::string>> audit_cursor_param(std::string_view query);

}  // namespace callsign::server
