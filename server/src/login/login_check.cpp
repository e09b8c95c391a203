#include "server/login/login_check.hpp"

namespace callsign::server {

result<login_signals> evaluate_login_check(const list_snapshot* lists, const login_limiter& limiter,
                                           const login_check_input& input, std::int64_t now_ms) {
  login_signals out;
  if (lists != nullptr) {
    out.open_proxy = lists->is_open_proxy(to_storage_address(input.address));
    if (input.normalized_username && input.password) {
      out.exposed_credential = lists->exposed_credential(*input.normalized_username, *input.password);
    }
    if (input.password) {
      out.exposed_password = lists->exposed_password(*input.password);
    }
    if (input.device_serial) {
      out.managed_device = lists->is_managed_device(*input.device_serial);
    }
  }
  auto limits = check_login(limiter, input.address, input.normalized_username, now_ms);
  if (!limits) return limits.error();
  out.blocked = limits->blocked;
  out.retry_after_seconds = limits->blocked ? limits->retry_after_seconds : 0;
  if (limits->blocked) out.blocked_by_rule = limits->rule;
  out.user_key = std::move(limits->user_key);
  out.previous_user_key = std::move(limits->previous_user_key);
  out.exposed_credential_check = out.exposed_credential ? exposed_check_pair
                                 : out.exposed_password ? exposed_check_password
                                                        : exposed_check_none;
  return out;
}

}  // namespace callsign::server
