#include "storage/embedded_login_counts.hpp"

namespace callsign::storage {

void embedded_login_counts::read(std::int64_t now_ms, std::span<const count_read> keys, std::span<double> counts,
                                 completion<void> done) {
  if (keys.size() != counts.size()) {
    done(make_error(error_kind::invalid_input, "one count per key"));
    return;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto estimate = counters_.estimate(keys[i].key, now_ms, keys[i].limit);
    if (!estimate) {
      done(estimate.error());
      return;
    }
    counts[i] = estimate->value;
  }
  done({});
}

}  // namespace callsign::storage
