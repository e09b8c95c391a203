// login_counts for a single node: the rate counters' estimates, inline on the caller's thread.
// A key not in memory since a restart is read from disk on that thread, as the synchronous path
// before it did (storage/read_policy.hpp bounds how long after a start that can happen).
#pragma once

#include "storage/login_counts.hpp"
#include "storage/rate_counters.hpp"

namespace callsign::storage {

// Thread-safety: any thread, concurrently. `counters` must outlive it.
class embedded_login_counts final : public login_counts {
 public:
  explicit embedded_login_counts(rate_counters& counters) : counters_(counters) {}

  void read(std::int64_t now_ms, std::span<const count_read> keys, std::span<double> counts,
            completion<void> done) override;
  // Always answers.
  std::optional<result<void>> read_inline(std::int64_t now_ms, std::span<const count_read> keys,
                                          std::span<double> counts) override;

 private:
  rate_counters& counters_;
};

}  // namespace callsign::storage
