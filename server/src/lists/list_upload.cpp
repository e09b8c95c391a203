#include "server/lists/list_upload.hpp"

#include <string>
#include <utility>

#include "routes/route_support.hpp"
#include "server/http/problem.hpp"

namespace callsign::server {

std::variant<list_upload_ticket, http_response> admit_list_upload(const list_services& services,
                                                                  const http_request& request,
                                                                  std::optional<std::uint64_t> declared_length,
                                                                  bool chunked) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return error_response(who.error());
  auto id = parse_list_name(request.path_param("name").value_or(""));
  if (!id) {
    return error_response(make_error(
        error_kind::not_found, "no such list (open_proxies, managed_devices, exposed_credentials, exposed_passwords)"));
  }
  if (services.lists.has_url_source(*id)) {
    // The copy on disk is the URL's last good download; an upload would be replaced at the next
    // fetch, or serve until then as if it came from the URL.
    return problem_response(409, "Conflict",
                            "this list is loaded from its URL; change the source, not the copy "
                            "([lists." + std::string(list_name(*id)) + "] url)");
  }
  if (!declared_length && !chunked) {
    // A body whose length nobody declared would install an empty list from bytes that never came.
    return problem_response(411, "Length Required", "a list upload needs Content-Length or chunked transfer coding");
  }
  const std::uint64_t limit = services.lists.upload_limit(*id);
  if (declared_length && *declared_length > limit) {
    return list_upload_ticket{std::move(who).value(), *id, {}, limit, true};
  }
  auto path = services.lists.upload_path(*id);
  if (!path) return error_response(path.error());
  return list_upload_ticket{std::move(who).value(), *id, std::move(path).value(), limit};
}

std::string_view upload_refusal_name(upload_refusal reason) noexcept {
  switch (reason) {
    case upload_refusal::too_large:
      return "too_large";
    case upload_refusal::too_slow:
      return "too_slow";
    case upload_refusal::aborted:
      return "aborted";
    case upload_refusal::store_failed:
      return "store_failed";
  }
  return "aborted";
}

storage::audit_draft refused_upload_audit(const app_context& app, const http_request& request,
                                          const list_upload_ticket& ticket, upload_refusal reason,
                                          std::uint64_t bytes_stored) {
  auto audit = audit_for(app, ticket.who, request, "lists.upload", "");
  audit.outcome = "refused";
  audit.details.emplace_back("list", std::string(list_name(ticket.id)));
  audit.details.emplace_back("reason", std::string(upload_refusal_name(reason)));
  audit.details.emplace_back("bytes_stored", std::to_string(bytes_stored));
  return audit;
}

handler_result refused_list_upload(const app_context& app, const http_request& request, const list_upload_ticket& ticket,
                                   upload_refusal reason, std::uint64_t bytes_stored, http_response reply) {
  deferred_response deferred;
  deferred.changes.add_audit(refused_upload_audit(app, request, ticket, reason, bytes_stored));
  deferred.finish = [reply = std::move(reply)](const result<storage::commit_receipt>&) { return reply; };
  return deferred;
}

http_response upload_too_large_response(std::uint64_t limit) {
  return problem_response(413, "Content Too Large",
                          "the upload exceeds this list's limit of " + std::to_string(limit) +
                              " bytes (lists.max_upload_bytes; text lists also lists.max_text_bytes)");
}

http_response upload_too_slow_response(std::uint64_t min_bytes_per_second) {
  return problem_response(408, "Request Timeout",
                          "the upload was slower than " + std::to_string(min_bytes_per_second) +
                              " bytes per second on average (lists.upload_min_bytes_per_second)");
}

}  // namespace callsign::server
