#include "server/observability/live_series.hpp"

#include <algorithm>
#include <limits>

#include "server/http/json_writer.hpp"

namespace callsign::server {

namespace {

constexpr auto ring_size = static_cast<std::int64_t>(live_series_seconds);

std::size_t slot_of(std::int64_t t) {
  return static_cast<std::size_t>(((t % ring_size) + ring_size) % ring_size);
}

}  // namespace

void live_series::add(std::string name, cumulative_reader read) {
  std::lock_guard lock(mutex_);
  series_.try_emplace(name);
  fixed_.emplace_back(std::move(name), std::move(read));
}

void live_series::add_dynamic(dynamic_reader read_all) {
  std::lock_guard lock(mutex_);
  dynamic_.push_back(std::move(read_all));
}

void live_series::store(series& s, std::int64_t t, std::uint64_t cumulative) {
  // A counter below its last reading was replaced (a new rule set counts from zero): everything
  // it holds now is new.
  const std::uint64_t delta = cumulative >= s.last_cumulative ? cumulative - s.last_cumulative : cumulative;
  s.last_cumulative = cumulative;
  s.ring[slot_of(t)] =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(delta, std::numeric_limits<std::uint32_t>::max()));
  last_tick_.values.emplace_back(std::string(), delta);
}

bool live_series::tick(std::int64_t t) {
  std::lock_guard lock(mutex_);
  if (last_ != 0 && t <= last_) {
    return false;
  }
  // Seconds nobody ticked hold zeros (at most a whole ring of them).
  if (last_ != 0) {
    const std::int64_t from = std::max(last_ + 1, t - ring_size + 1);
    for (auto& [name, s] : series_) {
      for (std::int64_t gap = from; gap < t; ++gap) s.ring[slot_of(gap)] = 0;
    }
  } else {
    first_ = t;
  }
  last_ = t;
  last_tick_.t = t;
  last_tick_.values.clear();

  std::vector<std::pair<std::string, std::uint64_t>> readings;
  for (const auto& [name, read] : fixed_) readings.emplace_back(name, read());
  const std::size_t fixed_count = readings.size();
  for (const auto& read_all : dynamic_) read_all(readings);

  for (std::size_t i = 0; i < readings.size(); ++i) {
    auto [it, added] = series_.try_emplace(readings[i].first);
    auto& s = it->second;
    if (added) s.dynamic = i >= fixed_count;
    if (s.dynamic) s.last_reported = t;
    store(s, t, readings[i].second);
    last_tick_.values.back().first = readings[i].first;
  }
  // Dynamic series this tick did not report: a zero now, and counted from zero if they return.
  for (auto it = series_.begin(); it != series_.end();) {
    auto& s = it->second;
    if (s.dynamic && s.last_reported != t) {
      s.ring[slot_of(t)] = 0;
      s.last_cumulative = 0;
      if (s.last_reported <= t - ring_size) {
        it = series_.erase(it);  // nothing of it is left in the last hour
        continue;
      }
      last_tick_.values.emplace_back(it->first, 0);
    }
    ++it;
  }
  std::sort(last_tick_.values.begin(), last_tick_.values.end());
  return true;
}

live_history live_series::snapshot() const {
  std::lock_guard lock(mutex_);
  live_history out;
  if (last_ == 0) {
    for (const auto& [name, read] : fixed_) out.series[name];  // every name, no seconds yet
    return out;
  }
  out.start = std::max(first_, last_ - ring_size + 1);
  out.seconds = static_cast<std::size_t>(last_ - out.start + 1);
  for (const auto& [name, s] : series_) {
    auto& counts = out.series[name];
    counts.reserve(out.seconds);
    for (std::int64_t t = out.start; t <= last_; ++t) counts.push_back(s.ring[slot_of(t)]);
  }
  return out;
}

live_tick live_series::last_tick() const {
  std::lock_guard lock(mutex_);
  return last_tick_;
}

std::string live_history_message(const live_history& history) {
  json_writer json;
  json.begin_object()
      .field("type", "history")
      .field("start", history.start)
      .field("seconds", static_cast<std::uint64_t>(history.seconds))
      .key("series")
      .begin_object();
  for (const auto& [name, counts] : history.series) {
    json.key(name).begin_array();
    for (auto c : counts) json.value(static_cast<std::uint64_t>(c));
    json.end_array();
  }
  json.end_object().end_object();
  return std::move(json).str();
}

std::string live_tick_message(const live_tick& tick) {
  json_writer json;
  json.begin_object().field("type", "tick").field("t", tick.t).key("values").begin_object();
  for (const auto& [name, count] : tick.values) json.field(name, count);
  json.end_object().end_object();
  return std::move(json).str();
}

}  // namespace callsign::server
