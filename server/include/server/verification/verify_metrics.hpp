// POST /v1/verify answers by outcome, for /metrics and the admin console's live charts.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace callsign::server {

// Thread-safety: atomics, relaxed.
struct verify_metrics {
  std::atomic<std::uint64_t> valid{0};
  std::atomic<std::uint64_t> invalid{0};  // a wrong code, an unknown or ineligible user
  std::atomic<std::uint64_t> replayed{0};
  std::atomic<std::uint64_t> throttled{0};

  std::string prometheus_text() const;
};

}  // namespace callsign::server
