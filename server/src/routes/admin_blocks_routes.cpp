// GET /v1/admin/blocks and DELETE /v1/admin/blocks/{key} (admin): list the blocks in force
// (searched by address, username or key text) and lift one (audited; the reply waits for the
// lift and its audit entry to be synced).
#include <algorithm>
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "routes/route_support.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/http/query_string.hpp"
#include "server/login/login_limits.hpp"
#include "server/routes/routes.hpp"

namespace callsign::server {

namespace {

void write_block(json_writer& json, const storage::block_entry& block, std::int64_t now_ms) {
  json.begin_object()
      .field("key", block.key)
      .field("kind", login_block_kind(block.key))
      .field("rule", block.rule)
      .field("created_at", block.created_ms / 1000)
      .field("until", (block.until_ms + 999) / 1000)
      .field("retry_after", block.retry_after_seconds(now_ms))
      .end_object();
}

// GET /v1/admin/blocks?ip=&username=&key=: every given part must match. A username is never
// compared in clear: it is hashed as the limiter hashes it (under the previous key version
// too, while its blocks can live).
struct block_search {
  std::optional<std::string> ip_key;    // the address's block key ("203.0.113.7", "2001:db8::/64")
  std::vector<std::string> user_keys;   // "user:<hex>" under each live key version
  std::optional<std::string> key_text;  // a part of the key
  bool by_username = false;
  std::size_t limit = 1000;  // blocks shown; `total` counts every match

  bool matches(std::string_view key) const {
    if (ip_key && key != *ip_key && !(key.starts_with(*ip_key) && key.substr(ip_key->size()).starts_with("+"))) {
      return false;
    }
    if (by_username) {
      const bool any = std::any_of(user_keys.begin(), user_keys.end(), [key](const std::string& user) {
        return key == user ||
               (key.size() > user.size() && key.ends_with(user) && key[key.size() - user.size() - 1] == '+');
      });
      if (!any) return false;
    }
    return !key_text || key.find(*key_text) != std::string_view::npos;
  }
};

result<block_search> parse_block_search(const login_limiter& login, const http_request& request, std::int64_t now) {
  block_search out;
  // An attack can leave hundreds of thousands of blocks: a page, never all of them at once.
  auto limit = query_uint(request.query, "limit", 1, 10000);
  if (!limit) return limit.error();
  if (*limit) out.limit = static_cast<std::size_t>(**limit);
  auto ip = query_param(request.query, "ip");
  if (!ip) return ip.error();
  if (*ip && !(*ip)->empty()) {
    auto address = parse_ip_address(**ip);
    if (!address) return make_error(error_kind::invalid_input, "query parameter 'ip' is not an IPv4 or IPv6 address");
    out.ip_key = login_block_key(login_key_kind::ip, *address, {});
  }
  auto username = query_param(request.query, "username");
  if (!username) return username.error();
  if (*username && !(*username)->empty()) {
    auto normalized = normalize_login_username(**username);
    crypto::secure_wipe(**username);
    if (!normalized) return make_error(error_kind::invalid_input, "query parameter 'username' is empty or too long");
    auto current = login.username_key(*normalized);
    auto previous = login.previous_username_key(*normalized, now);
    crypto::secure_wipe(*normalized);
    if (!current) return current.error();
    if (!previous) return previous.error();
    out.by_username = true;
    out.user_keys.push_back(std::move(*current));
    if (*previous) out.user_keys.push_back(std::move(**previous));
  }
  auto key = query_param(request.query, "key");
  if (!key) return key.error();
  if (*key && !(*key)->empty()) {
    if ((*key)->size() > storage::max_block_key) {
      return make_error(error_kind::invalid_input, "query parameter 'key' is longer than a block key");
    }
    out.key_text = std::move(**key);
  }
  return out;
}

// What the routes use, complete at construction.
struct block_services {
  app_context& app;  // authentication, clock, log
  storage::block_directory& blocks;
  const login_limiter& login;
};

handler_result list_blocks(const block_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::admin});
  if (!who) return who.error();
  const auto asked = now_ms(app);
  auto search = parse_block_search(services.login, request, asked);
  if (!search) return search.error();
  return async_response{[services, search = std::move(*search)](std::function<void(handler_result)> resume) {
    const auto now = now_ms(services.app);
    services.blocks.list(now, [now, resume, search](result<std::vector<storage::block_entry>> listed) {
      if (!listed) {
        resume(listed.error());
        return;
      }
      // The matches in key order; the first `limit` are shown.
      std::vector<const storage::block_entry*> matching;
      for (const auto& block : *listed) {
        if (search.matches(block.key)) matching.push_back(&block);
      }
      const std::size_t shown = std::min(matching.size(), search.limit);
      std::partial_sort(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(shown), matching.end(),
                        [](const auto* a, const auto* b) { return a->key < b->key; });
      json_writer json;
      json.begin_object().key("blocks").begin_array();
      for (std::size_t i = 0; i < shown; ++i) write_block(json, *matching[i], now);
      json.end_array();
      json.field("total", static_cast<std::uint64_t>(matching.size()));
      json.field("truncated", shown < matching.size());
      json.end_object();
      resume(json_response(200, std::move(json).str()));
    });
  }};
}

handler_result lift_block(const block_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::admin});
  if (!who) return who.error();
  // The router has decoded the segment ("2001:db8::%2F64" -> "2001:db8::/64").
  auto key = login_block_key_from_admin_input(request.path_param("key").value_or(""));
  if (key.empty() || key.size() > storage::max_block_key) {
    return make_error(error_kind::invalid_input,
                      "path segment 'key' must be 1 to " + std::to_string(storage::max_block_key) + " bytes");
  }
  auto audit = audit_for(app, *who, request, "login.unblock", "");
  return async_response{[services, key = std::move(key), audit = std::move(audit)](
                            std::function<void(handler_result)> resume) mutable {
    const auto now = now_ms(services.app);
    // The lift's persisted changes (embedded backend) go into the reply's commit with the audit entry.
    auto deferred = std::make_shared<deferred_response>();
    // The key stays alive until the completion ran (the completion owns `held`).
    auto held = std::make_shared<const std::string>(std::move(key));
    services.blocks.lift(*held, now, deferred->changes,
                         [services, deferred, audit = std::move(audit), now, resume,
                          held](result<std::optional<storage::block_entry>> lifted) mutable {
                           if (!lifted) {
                             resume(lifted.error());
                             return;
                           }
                           if (!lifted->has_value()) {
                             resume(make_error(error_kind::not_found, "no block in force for that key"));
                             return;
                           }
                           audit.outcome = "ok";
                           audit.details.emplace_back("key", (*lifted)->key);
                           audit.details.emplace_back("rule", (*lifted)->rule);
                           deferred->changes.add_audit(std::move(audit));
                           deferred->finish = [&app = services.app, &login = services.login,
                                               block = std::move(**lifted),
                                               now](const result<storage::commit_receipt>&) {
                             login.metrics().blocks_lifted.fetch_add(1, std::memory_order_relaxed);
                             app.log.info("login block lifted", {{"key", block.key}, {"rule", block.rule}});
                             json_writer json;
                             json.begin_object().key("lifted");
                             write_block(json, block, now);
                             json.end_object();
                             return json_response(200, std::move(json).str());
                           };
                           resume(std::move(*deferred));
                         });
  }};
}

}  // namespace

void add_admin_block_routes(router& routes, app_context& app) {
  if (app.block_admin == nullptr || app.login == nullptr) {
    throw std::logic_error("the block routes need the block directory and the login limiter");
  }
  const block_services services{app, *app.block_admin, *app.login};
  routes.add(http_method::get, "/v1/admin/blocks", [services](http_request& r) { return list_blocks(services, r); })
      .accepting_query({"ip", "username", "key", "limit"});
  routes.add(
      http_method::delete_, "/v1/admin/blocks/{key}", [services](http_request& r) { return lift_block(services, r); },
      route_execution::io, path_slashes::allowed);  // a CIDR key holds '/'
}

}  // namespace callsign::server
