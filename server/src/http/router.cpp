#include "server/http/router.hpp"

#include <exception>

#include "crypto/percent_coding.hpp"
#include "server/http/problem.hpp"
#include "server/http/query_string.hpp"
#include "server/http/websocket_handshake.hpp"

namespace callsign::server {

namespace {
// Views into `path` (or the pattern): resolving a request allocates no string per segment.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  if (!path.empty() && path.front() == '/') {
    start = 1;
  }
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      break;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const route& r, const std::vector<std::string_view>& parts,
             std::vector<std::pair<std::string, std::string>>* params) {
  if (r.segments.size() != parts.size()) {
    return false;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& seg = r.segments[i];
    if (is_param(seg)) {
      if (parts[i].empty()) {
        return false;
      }
      if (params != nullptr) {
        params->emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
      }
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return true;
}

// Decodes the captured segments in place, once. Details name the parameter, never its value.
result<void> decode_params(const route& r, std::vector<std::pair<std::string, std::string>>& params) {
  for (auto& [name, value] : params) {
    auto decoded = crypto::percent_decode(value);
    if (!decoded) {
      return make_error(error_kind::invalid_input,
                        "path segment '" + name + "' has a bad percent escape (% must begin %XX, two hex digits)");
    }
    if (decoded->find('\0') != std::string::npos) {
      return make_error(error_kind::invalid_input, "path segment '" + name + "' must not contain NUL (%00)");
    }
    if (r.slashes == path_slashes::refused && decoded->find('/') != std::string::npos) {
      return make_error(error_kind::invalid_input, "path segment '" + name + "' must not contain '/' (%2F)");
    }
    value = std::move(*decoded);
  }
  return {};
}

bool starts_with_ascii_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && ascii_iequals(text.substr(0, prefix.size()), prefix);
}

// An authority as compared with the Host header: lower-case, without the scheme's default port
// and without a trailing dot on the host ("H.:80" and "h" name one server over http).
std::string comparable_authority(std::string_view authority, std::string_view default_port) {
  std::string out;
  for (char c : authority) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  const auto bracket = out.rfind(']');
  const auto colon = out.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    const std::string_view port = std::string_view(out).substr(colon + 1);
    if (port.empty() || port == default_port) out.resize(colon);
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// Origin-form is "/" path [ "?" query ]; a fragment never travels in a request (RFC 9112 §3.2).
// Absolute-form, which a server MUST accept (§3.2.2), becomes its origin-form here once its
// authority names the Host header's server, the one callsignd's checks (the stream's same
// origin) read; a different one is refused rather than let the two disagree.
result<void> to_origin_form(http_request& request) {
  if (request.target.find('#') != std::string::npos) {
    return make_error(error_kind::invalid_input, "the request target must not carry a fragment ('#')");
  }
  if (!request.path.empty() && request.path.front() == '/') return {};
  for (const auto& [scheme, default_port] : {std::pair<std::string_view, std::string_view>{"http://", "80"},
                                              std::pair<std::string_view, std::string_view>{"https://", "443"}}) {
    if (!starts_with_ascii_nocase(request.path, scheme)) continue;
    std::string_view rest = std::string_view(request.path).substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    const auto host = request.header("host");
    if (authority.empty() || !host ||
        comparable_authority(authority, default_port) != comparable_authority(*host, default_port)) {
      return make_error(error_kind::invalid_input,
                        "an absolute request target must name the same host and port as the Host header");
    }
    request.path = slash == std::string_view::npos ? std::string("/") : std::string(rest.substr(slash));
    return {};
  }
  return make_error(error_kind::invalid_input, "the request target must be an absolute path (\"/…\")");
}
}  // namespace

route& router::add_route(http_method method, std::string pattern, route_handler handler, route_execution execution,
                         path_slashes slashes) {
  labels_.push_back(std::string(http_method_name(method)) + " " + pattern);
  std::vector<std::string> segments;
  for (auto part : split_path(pattern)) segments.emplace_back(part);
  route added;
  added.method = method;
  added.pattern = std::move(pattern);
  added.handler = std::move(handler);
  added.execution = execution;
  added.segments = std::move(segments);
  added.slashes = slashes;
  routes_.push_back(std::move(added));
  return routes_.back();
}

route& router::add(http_method method, std::string pattern, route_handler handler, route_execution execution,
                   path_slashes slashes) {
  return add_route(method, std::move(pattern), std::move(handler), execution, slashes);
}

route& router::add_streamed(http_method method, std::string pattern, route_handler handler, stream_steps steps,
                            route_execution execution) {
  auto& added = add_route(method, std::move(pattern), std::move(handler), execution, path_slashes::refused);
  added.body = body_reading::streamed;
  added.streamed = std::move(steps);
  return added;
}

route& router::add_upgrade(http_method method, std::string pattern, route_handler handler, upgrade_check check,
                           upgrade_kind kind) {
  auto& added = add_route(method, std::move(pattern), std::move(handler), route_execution::io, path_slashes::refused);
  added.body = body_reading::upgrade;
  added.before_upgrade = std::move(check);
  added.upgrades_to = kind;
  return added;
}

route_match router::resolve(http_request& request) const {
  if (request.method == http_method::other) {
    return route_match{nullptr, 0, problem_response(501, "Not Implemented", "this server does not implement that method")};
  }
  if (auto target = to_origin_form(request); !target) {
    return route_match{nullptr, 0, error_response(target.error())};
  }
  auto parts = split_path(request.path);
  std::string allowed;
  auto effective = request.method == http_method::head ? http_method::get : request.method;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& r = routes_[i];
    if (!matches(r, parts, nullptr)) {
      continue;
    }
    if (r.method == effective) {
      request.path_params.clear();
      matches(r, parts, &request.path_params);
      if (auto decoded = decode_params(r, request.path_params); !decoded) {
        request.path_params.clear();
        return route_match{nullptr, i + 1, error_response(decoded.error()), r.body};
      }
      if (!r.any_query && !request.query.empty()) {
        if (auto declared = query_names_declared(request.query, r.query); !declared) {
          request.path_params.clear();
          return route_match{nullptr, i + 1, error_response(declared.error()), r.body};
        }
      }
      return route_match{&r, i + 1, {}, r.body};
    }
    if (!allowed.empty()) {
      allowed += ", ";
    }
    allowed += http_method_name(r.method);
    if (r.method == http_method::get) {
      allowed += ", HEAD";
    }
  }
  if (!allowed.empty()) {
    auto response = problem_response(405, "Method Not Allowed",
                                     std::string(http_method_name(request.method)) + " is not allowed on this resource");
    response.with_header("Allow", allowed);
    return route_match{nullptr, 0, std::move(response)};
  }
  return route_match{nullptr, 0, problem_response(404, "Not Found", "no such resource")};
}

namespace {
http_response internal_error() { return problem_response(500, "Internal Server Error", "internal error"); }

// Maps what a handler returned.
route_outcome settled(handler_result outcome) {
  auto& value = outcome.value();
  if (auto* err = std::get_if<error>(&value)) {
    return error_response(*err);
  }
  if (auto* deferred = std::get_if<deferred_response>(&value)) return std::move(*deferred);
  if (auto* pending = std::get_if<async_response>(&value)) {
    if (!pending->start) return internal_error();  // an empty start could never resume
    return std::move(*pending);
  }
  return std::move(std::get<http_response>(value));
}

route_outcome run_handler(const route& r, http_request& request) {
  try {
    return settled(r.handler(request));
  } catch (const std::exception&) {
    // Handlers return errors as values; anything thrown is a bug, kept off the wire.
    return internal_error();
  }
}
}  // namespace

route_outcome router::invoke(const route& r, http_request& request) { return run_handler(r, request); }

route_outcome router::settle(handler_result next) {
  try {
    return settled(std::move(next));
  } catch (const std::exception&) {
    return internal_error();
  }
}

route_outcome router::run_step(const std::function<handler_result()>& step) {
  try {
    return settled(step());
  } catch (const std::exception&) {
    return internal_error();
  }
}

std::variant<std::unique_ptr<body_stream>, route_outcome> router::admit(const route& r, http_request& request,
                                                                       body_framing framing) {
  try {
    if (!r.streamed.admit) return route_outcome(internal_error());
    auto admitted = r.streamed.admit(request, framing);
    if (auto* body = std::get_if<std::unique_ptr<body_stream>>(&admitted)) {
      if (*body == nullptr) return route_outcome(internal_error());
      return std::move(*body);
    }
    return settled(std::move(std::get<handler_result>(admitted)));
  } catch (const std::exception&) {
    return route_outcome(internal_error());
  }
}

std::optional<http_response> router::check_upgrade(const route& r, const http_request& request) {
  try {
    if (auto malformed = websocket_handshake_problem(request)) return malformed;
    if (!r.before_upgrade) return std::nullopt;
    return r.before_upgrade(request);
  } catch (const std::exception&) {
    return internal_error();
  }
}

std::shared_ptr<pending_reply> pending_reply::start(async_response pending) {
  auto slot = std::make_shared<pending_reply>();
  try {
    pending.start([slot](handler_result next) { slot->resume(std::move(next)); });
  } catch (const std::exception&) {
    slot->resume(internal_error());  // ignored when start resumed before it threw
  }
  return slot;
}

void pending_reply::resume(handler_result next) {
  auto outcome = router::settle(std::move(next));  // outside the lock: may destroy captured state
  std::lock_guard lock(mutex_);
  if (resumed_ || abandoned_) return;
  resumed_ = true;
  value_ = std::move(outcome);
  if (wake_) {
    // Under the lock, so abandon() cannot return while a wake (a post to the connection's
    // executor) is under way.
    auto wake = std::move(wake_);
    wake_ = nullptr;
    wake();
  }
}

std::optional<route_outcome> pending_reply::take_or_wake(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (value_) {
    auto taken = std::move(value_);
    value_.reset();
    return taken;
  }
  wake_ = std::move(wake);
  return std::nullopt;
}

void pending_reply::abandon() {
  std::function<void()> dropped;
  {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
    dropped = std::move(wake_);
    wake_ = nullptr;
  }
}

http_response router::finish(deferred_response& deferred, const result<storage::commit_receipt>& committed) {
  try {
    if (!committed) {
      return error_response(committed.error());
    }
    return deferred.finish(committed);
  } catch (const std::exception&) {
    return problem_response(500, "Internal Server Error", "internal error");
  }
}

}  // namespace callsign::server
