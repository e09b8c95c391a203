#include "server/observability/metrics.hpp"

#include <algorithm>
#include <charconv>

namespace callsign::server {

namespace {
void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
    }
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
}

// route="<label>", escaped.
std::string route_label(std::string_view route) {
  std::string label = "route=\"";
  append_label_value(label, route);
  label += "\"";
  return label;
}

std::string format_double(double v) {
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed);
  return std::string(buf.data(), end);
}
}  // namespace

metrics::metrics(std::vector<std::string> route_labels) : route_labels_(std::move(route_labels)) {
  histograms_.reserve(route_labels_.size());
  for (std::size_t i = 0; i < route_labels_.size(); ++i) {
    histograms_.push_back(std::make_unique<histogram>());
  }
}

void metrics::record_request(std::size_t route_index, http_method method, unsigned status, double seconds) {
  if (route_index >= histograms_.size()) {
    route_index = 0;
  }
  auto& h = *histograms_[route_index];
  // One bucket per request (the first bound it is within; none beyond the last): the I/O threads
  // share these cache lines, so each atomic counts. prometheus_text() sums them into Prometheus's
  // cumulative buckets.
  const auto bound = std::lower_bound(latency_buckets_seconds.begin(), latency_buckets_seconds.end(), seconds);
  if (bound != latency_buckets_seconds.end()) {
    h.buckets[static_cast<std::size_t>(bound - latency_buckets_seconds.begin())].fetch_add(1, std::memory_order_relaxed);
  }
  h.count.fetch_add(1, std::memory_order_relaxed);
  auto nanos = seconds <= 0 ? 0.0 : seconds * 1e9;
  h.sum_nanos.fetch_add(static_cast<std::uint64_t>(nanos), std::memory_order_relaxed);

  std::lock_guard lock(counters_mutex_);
  ++counters_[{route_index, method, status}];
}

void metrics::record_round_trips(std::size_t route_index, std::uint64_t round_trips) {
  if (route_index >= histograms_.size()) {
    route_index = 0;
  }
  auto& h = *histograms_[route_index];
  if (round_trips < h.trips.size()) {
    h.trips[round_trips].fetch_add(1, std::memory_order_relaxed);
  }
  h.trips_count.fetch_add(1, std::memory_order_relaxed);
  h.trips_sum.fetch_add(round_trips, std::memory_order_relaxed);
}

std::string metrics::prometheus_text() const {
  std::string out;
  out += "# HELP callsign_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE callsign_http_requests_total counter\n";
  {
    std::lock_guard lock(counters_mutex_);
    for (const auto& [key, count] : counters_) {
      const auto& [route_index, method, status] = key;
      out += "callsign_http_requests_total{route=\"";
      append_label_value(out, route_labels_[route_index]);
      out += "\",method=\"";
      out += http_method_name(method);
      out += "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(count) + "\n";
    }
  }
  out += "# HELP callsign_http_request_duration_seconds Time from request header to response ready.\n";
  out += "# TYPE callsign_http_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < route_labels_.size(); ++r) {
    const auto& h = *histograms_[r];
    auto count = h.count.load(std::memory_order_relaxed);
    if (count == 0) {
      continue;
    }
    std::vector<std::pair<std::string, std::uint64_t>> cumulative;
    std::uint64_t within = 0;
    for (std::size_t i = 0; i < latency_buckets_seconds.size(); ++i) {
      within += h.buckets[i].load(std::memory_order_relaxed);
      cumulative.emplace_back(format_double(latency_buckets_seconds[i]), within);
    }
    append_histogram_series(out, "callsign_http_request_duration_seconds", route_label(route_labels_[r]), cumulative,
                            count, format_double(static_cast<double>(h.sum_nanos.load(std::memory_order_relaxed)) / 1e9));
  }
  out += "# HELP callsign_http_request_redis_round_trips Round trips to Redis per request, by route (several "
         "nodes).\n";
  out += "# TYPE callsign_http_request_redis_round_trips histogram\n";
  for (std::size_t r = 0; r < route_labels_.size(); ++r) {
    const auto& h = *histograms_[r];
    auto count = h.trips_count.load(std::memory_order_relaxed);
    if (count == 0) {
      continue;
    }
    std::vector<std::pair<std::string, std::uint64_t>> cumulative;
    std::uint64_t within = 0;
    for (std::size_t i = 0; i < h.trips.size(); ++i) {
      within += h.trips[i].load(std::memory_order_relaxed);
      cumulative.emplace_back(std::to_string(i), within);
    }
    append_histogram_series(out, "callsign_http_request_redis_round_trips", route_label(route_labels_[r]), cumulative,
                            count, std::to_string(h.trips_sum.load(std::memory_order_relaxed)));
  }
  out += "# HELP callsign_open_connections Connections currently open.\n";
  out += "# TYPE callsign_open_connections gauge\n";
  out += "callsign_open_connections " + std::to_string(open_connections()) + "\n";
  out += "# HELP callsign_stream_slow_consumer_closes_total Streams closed for not keeping up.\n";
  out += "# TYPE callsign_stream_slow_consumer_closes_total counter\n";
  out += "callsign_stream_slow_consumer_closes_total " + std::to_string(stream_slow_consumer_closes()) + "\n";
  return out;
}

void append_histogram_series(std::string& out, std::string_view name, std::string_view labels,
                             const std::vector<std::pair<std::string, std::uint64_t>>& cumulative, std::uint64_t count,
                             std::string_view sum) {
  // Built by appending: GCC 12's -Wrestrict misfires on `"{" + std::string(...)` at -O2.
  std::string open("{");
  std::string plain;
  if (!labels.empty()) {
    open.append(labels).append(",");
    plain.append("{").append(labels).append("}");
  }
  for (const auto& [bound, at_most] : cumulative) {
    out.append(name).append("_bucket").append(open).append("le=\"").append(bound).append("\"} ");
    out.append(std::to_string(at_most)).append("\n");
  }
  out.append(name).append("_bucket").append(open).append("le=\"+Inf\"} ").append(std::to_string(count)).append("\n");
  out.append(name).append("_sum").append(plain).append(" ").append(sum).append("\n");
  out.append(name).append("_count").append(plain).append(" ").append(std::to_string(count)).append("\n");
}

void append_counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" counter\n");
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

std::string commit_metrics_text(const storage::group_commit_stats& stats) {
  std::string out;
  auto counter = [&out](std::string_view name, std::string_view help, std::uint64_t value) {
    append_counter(out, name, help, value);
  };
  counter("callsign_commit_groups_total", "Synced WriteBatches holding requests' changes (one fsync each).",
          stats.groups_written);
  counter("callsign_commit_changes_total", "Requests' changes committed (groups_total of them share an fsync).",
          stats.items_written);
  counter("callsign_commit_groups_failed_total", "Groups whose write failed; their requests got an error.",
          stats.groups_failed);
  counter("callsign_audit_entries_total", "Audit journal entries committed.", stats.entries_written);
  counter("callsign_audit_checkpoints_total", "Signed audit checkpoints written.", stats.checkpoints_written);
  counter("callsign_state_folds_total", "State-log folds into the keyed families.", stats.state_folds);
  counter("callsign_state_folds_failed_total", "State-log folds that failed (retried; the log keeps the changes).",
          stats.state_folds_failed);
  return out;
}

std::string disk_wait_metrics_text(std::uint64_t tasks_run) {
  std::string out;
  append_counter(out, "callsign_storage_disk_waits_total",
                 "Storage calls moved off the I/O threads to the callsign-disk pool because they had to read "
                 "the disk.",
                 tasks_run);
  return out;
}

}  // namespace callsign::server
