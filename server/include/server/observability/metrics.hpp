// Request counters and latency histograms, written out in Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "server/http/http_types.hpp"
#include "storage/change_set.hpp"

namespace callsign::server {

inline constexpr std::array<double, 12> latency_buckets_seconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

// Thread-safety: all members may be called concurrently.
class metrics {
 public:
  explicit metrics(std::vector<std::string> route_labels);

  void record_request(std::size_t route_index, http_method method, unsigned status, double seconds);
  // The round trips to Redis one request of the route made (several nodes only: a request is
  // counted when it ran with a storage::round_trip_tally).
  void record_round_trips(std::size_t route_index, std::uint64_t round_trips);
  void connection_opened() noexcept { open_connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() noexcept { open_connections_.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t open_connections() const noexcept { return open_connections_.load(std::memory_order_relaxed); }
  // GET /v1/stream connections closed because they did not keep up (outbox overflow, stuck write).
  void stream_slow_consumer_closed() noexcept { stream_slow_consumer_closes_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t stream_slow_consumer_closes() const noexcept {
    return stream_slow_consumer_closes_.load(std::memory_order_relaxed);
  }


  std::string prometheus_text() const;

 private:
  struct histogram {
    std::array<std::atomic<std::uint64_t>, latency_buckets_seconds.size()> buckets{};
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_nanos{0};
    // Requests by their exact number of Redis round trips, 0 to 3 (more: only in trips_count).
    std::array<std::atomic<std::uint64_t>, 4> trips{};
    std::atomic<std::uint64_t> trips_count{0};
    std::atomic<std::uint64_t> trips_sum{0};
  };

  std::vector<std::string> route_labels_;
  std::vector<std::unique_ptr<histogram>> histograms_;  // one per route label
  mutable std::mutex counters_mutex_;
  std::map<std::tuple<std::size_t, http_method, unsigned>, std::uint64_t> counters_;
  std::atomic<std::int64_t> open_connections_{0};
  std::atomic<std::uint64_t> stream_slow_consumer_closes_{0};
};

// Appends one Prometheus counter (HELP, TYPE and value lines) to `out`.
void append_counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t value);

// Appends one histogram series (no HELP or TYPE): a `name_bucket` line per (le, cumulative count)
// pair, then +Inf, `name_sum` and `name_count`. `labels` is empty or `key="value"` pairs.
void append_histogram_series(std::string& out, std::string_view name, std::string_view labels,
                             const std::vector<std::pair<std::string, std::uint64_t>>& cumulative, std::uint64_t count,
                             std::string_view sum);

// The commit sink's counters (groups, changes, audit entries, checkpoints, state folds) as
// Prometheus counters.
std::string commit_metrics_text(const storage::group_commit_stats& stats);

// callsign_storage_disk_waits_total: storage calls moved off the I/O threads to the
// callsign-disk pool because they had to read the disk (storage/blocking_pool.hpp).
std::string disk_wait_metrics_text(std::uint64_t tasks_run);

}  // namespace callsign::server
