#include "routes/route_support.hpp"

#include "server/auth/token_verifier.hpp"

namespace callsign::server {

result<principal> caller(const app_context& app, const http_request& request, std::initializer_list<role> allowed) {
  if (app.verifier == nullptr) {
    return make_error(error_kind::unavailable, "authentication is not configured");
  }
  auto who = authenticate(request, *app.verifier, app.clock.unix_seconds());
  if (!who) {
    return who.error();
  }
  if (auto allowed_role = require_role(*who, allowed); !allowed_role) {
    return allowed_role.error();
  }
  return who;
}

http_response json_response(unsigned status, std::string body) {
  http_response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

storage::audit_draft audit_for(const app_context& app, const principal& who, const http_request& request,
                               std::string action, std::string subject) {
  storage::audit_draft draft;
  draft.time = app.clock.unix_seconds();
  draft.actor_type = std::string(role_name(who.role));
  draft.actor_id = who.subject;
  draft.action = std::move(action);
  draft.subject = std::move(subject);
  draft.source_ip = request.remote_address;
  draft.request_id = request.request_id;
  return draft;
}

}  // namespace callsign::server
