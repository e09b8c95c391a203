#include "storage/embedded_login_counts.hpp"

namespace callsign::storage {

std::optional<result<void>> embedded_login_counts::read_inline(std::int64_t now_ms, std::span<const count_read> keys,
                                                               std::span<double> counts) {
  if (keys.size() != counts.size()) return result<void>(make_error(error_kind::invalid_input, "one count per key"));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto estimate = counters_.estimate(keys[i].key, now_ms, keys[i].limit);
    if (!estimate) return result<void>(estimate.error());
    counts[i] = estimate->value;
  }
  return result<void>();
}

void embedded_login_counts::read(std::int64_t now_ms, std::span<const count_read> keys, std::span<double> counts,
                                 completion<void> done) {
  done(*read_inline(now_ms, keys, counts));
}

}  // namespace callsign::storage
