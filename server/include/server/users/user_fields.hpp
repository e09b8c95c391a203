// The fields of a user as an admin sends them: PUT /v1/users/{id}'s body and each line of a bulk
// import (docs/users.md). One validation for both, so an import accepts exactly what PUT does.
#pragma once

#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "server/http/http_types.hpp"

namespace callsign::server {

struct user_fields {
  std::string email;  // normalized
  bool phone_support = false;
};

// {"email": string, "phone_support": bool}, nothing else (a JSON object body).
result<user_fields> parse_user_fields(const http_request& request);

struct user_import_line {
  std::string id;
  user_fields fields;
};

// One NDJSON line of an import: {"id": string, "email": string, "phone_support": bool}. Error
// messages name the field and the rule, never the value.
result<user_import_line> parse_user_import_line(std::string_view line);

}  // namespace callsign::server
