// RFC 9457 problem details. The single place where errors become HTTP statuses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "rules/rule_set.hpp"
#include "server/http/http_types.hpp"

namespace callsign::server {

unsigned http_status_for(error_kind kind) noexcept;

// `detail` is shown to clients: it must never contain codes, passwords, secrets or keys.
http_response problem_response(unsigned status, std::string_view title, std::string_view detail);
http_response error_response(const error& err);
// What error_response shows a client: the message, except for internal and storage failures,
// whose messages are for the log (paths, RocksDB's text) and get a fixed text instead.
std::string_view client_detail(const error& err) noexcept;
inline constexpr std::string_view storage_failure_detail = "storage is unavailable; try again later";

// A rule file or expression that does not compile: 422 with the members rule, line, column and
// expected beside the detail (docs/rules.md, "Errors").
http_response rule_error_response(const rules::rule_error& why);

std::string_view reason_phrase(unsigned status) noexcept;

// Every 503 from error_response carries Retry-After with this many seconds (default 1; set once
// at start-up from [shared_state] retry_after_seconds, before serving).
void set_unavailable_retry_after(std::int64_t seconds) noexcept;

}  // namespace callsign::server
