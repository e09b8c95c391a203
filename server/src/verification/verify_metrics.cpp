#include "server/verification/verify_metrics.hpp"

#include "server/observability/metrics.hpp"

namespace callsign::server {

std::string verify_metrics::prometheus_text() const {
  std::string out;
  append_counter(out, "callsign_verify_valid_total", "Verifications answered valid.", valid.load());
  append_counter(out, "callsign_verify_invalid_total", "Verifications answered invalid (not replays).", invalid.load());
  append_counter(out, "callsign_verify_replayed_total", "Verifications of a code already used.", replayed.load());
  append_counter(out, "callsign_verify_throttled_total", "Verifications refused by a throttle (429).",
                 throttled.load());
  return out;
}

}  // namespace callsign::server
