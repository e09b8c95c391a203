#include "primary_health.hpp"

#include "resp_encoding.hpp"

namespace callsign::redis {

std::optional<std::string> info_field(std::string_view info, std::string_view field) {
  std::size_t line = 0;
  while (line < info.size()) {
    std::size_t end = info.find('\n', line);
    if (end == std::string_view::npos) end = info.size();
    std::string_view text = info.substr(line, end - line);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.size() > field.size() && text.starts_with(field) && text[field.size()] == ':') {
      return std::string(text.substr(field.size() + 1));
    }
    line = end + 1;
  }
  return std::nullopt;
}

std::string eviction_problem(const reply& info_memory) {
  if (info_memory.is_error()) return "INFO memory refused (" + error_code(info_memory) + ")";
  if (info_memory.type != reply::kind::string) return "INFO memory gave no text";
  const auto policy = info_field(info_memory.text, "maxmemory_policy");
  if (!policy) return "INFO memory does not say its maxmemory-policy; callsign needs noeviction";
  if (*policy == "noeviction") return {};
  return "maxmemory-policy is " + policy->substr(0, 32) +
         "; callsign needs noeviction (an evicted key could be a replay mark, a block or a user)";
}

std::string write_refusal(const reply& answer) {
  if (!answer.is_error()) return {};
  const std::string code = error_code(answer);
  if (code == "OOM") return "out of memory (maxmemory reached; nothing is evicted under noeviction)";
  if (code == "NOREPLICAS") return "too few replicas (min-replicas-to-write)";
  if (code == "MISCONF") return "its last RDB save failed (stop-writes-on-bgsave-error)";
  return "refused (" + code + ")";
}

}  // namespace callsign::redis
