#include "server/observability/descriptor_limit.hpp"

#include <sys/resource.h>

namespace callsign::server {

std::uint64_t raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit wanted = limit;
    wanted.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) {
      limit = wanted;
    }
  }
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

bool descriptors_short(std::uint64_t limit, std::uint64_t max_connections) noexcept {
  return limit != 0 && limit < max_connections + descriptor_reserve;
}

}  // namespace callsign::server
