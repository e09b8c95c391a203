#include "server/users/user_fields.hpp"

#include "server/http/json_body.hpp"
#include "storage/user_store.hpp"

namespace callsign::server {

namespace {
result<user_fields> read_fields(const json_body& body) {
  auto email_text = body.required_string("email", 254);
  if (!email_text) {
    return email_text.error();
  }
  auto phone_support = body.required_bool("phone_support");
  if (!phone_support) {
    return phone_support.error();
  }
  auto email = storage::normalize_email(*email_text);
  if (!email) {
    return email.error();
  }
  return user_fields{std::move(*email), *phone_support};
}
}  // namespace

result<user_fields> parse_user_fields(const http_request& request) {
  auto body = json_body::parse(request);
  if (!body) {
    return body.error();
  }
  if (auto known = body->only({"email", "phone_support"}); !known) {
    return known.error();
  }
  return read_fields(*body);
}

result<user_import_line> parse_user_import_line(std::string_view line) {
  // The line goes through the same JSON reader as a request body, with its rules (one object,
  // no repeated member, no NUL in strings).
  http_request as_body;
  as_body.headers.push_back({"content-type", "application/json"});
  as_body.body = std::string(line);
  auto body = json_body::parse(as_body);
  if (!body) {
    std::string message = body.error().message;  // "request body is not valid JSON", ...
    if (message.rfind("request body", 0) == 0) {
      message.replace(0, 12, "the line");
    }
    return make_error(error_kind::invalid_input, std::move(message));
  }
  if (auto known = body->only({"id", "email", "phone_support"}); !known) {
    return known.error();
  }
  auto id = body->required_string("id", 128);
  if (!id) {
    return id.error();
  }
  if (!storage::valid_user_id(*id)) {
    return make_error(error_kind::invalid_input, "user id must be 1-128 characters from A-Z a-z 0-9 . _ @ : -");
  }
  auto fields = read_fields(*body);
  if (!fields) {
    return fields.error();
  }
  return user_import_line{std::move(*id), std::move(*fields)};
}

}  // namespace callsign::server
